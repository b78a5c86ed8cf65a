// Package browsertest holds what the project's browser tests share: the
// headless Chromium flags that work on a build machine with no network and
// no display (see the Chromium notes in the project's DEPENDENCIES), for
// chromedp.NewExecAllocator.
package browsertest

import "github.com/chromedp/chromedp"

// Options are the allocator options for a headless Chromium at path: no
// sandbox (tests run as root), no GPU, no QUIC, none of Chromium's own
// network traffic, and whatever extra adds (a user data dir, a window
// size, the WebRTC flags of Media).
func Options(path string, extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	return append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}, extra...)
}

// Media are the flags a WebRTC page needs: loopback ICE candidates, and a
// fake microphone that needs no permission prompt.
var Media = []chromedp.ExecAllocatorOption{
	chromedp.Flag("allow-loopback-in-peer-connection", true),
	chromedp.Flag("use-fake-device-for-media-stream", true),
	chromedp.Flag("use-fake-ui-for-media-stream", true),
}
