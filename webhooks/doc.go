// Package webhooks delivers engine events to HTTP endpoints (FEATURES H3).
package webhooks
