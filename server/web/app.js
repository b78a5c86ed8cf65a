// callengine softphone: one WebSocket to /ws speaking the JSON protocol of
// docs/websocket-protocol.md, one RTCPeerConnection per call (the media
// relay is the other end), no framework and nothing fetched from elsewhere.
//
// State lives in three places: `phone` (connection and login), `calls`
// (call_id → call record) and the media objects (one peer connection each;
// a transferred call's media carries on under the new call's id, so a
// media object can belong to several call ids in turn).

const $ = (sel, root = document) => root.querySelector(sel);
const STORE = "callengine.softphone";
const SEEN = "callengine.softphone.seen";

const phone = {
  ws: null, status: "disconnected", authed: false, wantOnline: false, retry: 0,
  client: "", session: "", device: "", presence: "available",
  password: "", // this page's login only: never stored
  selected: "", // the call the keypad sends DTMF to
  refreshTimer: 0,
};
let saved = JSON.parse(sessionStorage.getItem(STORE) || "null"); // {client_id, access, refresh, session_id}
const calls = new Map();
const pending = new Map(); // req_id → {type, resolve, reject, onReply}
const orphanCandidates = new Map(); // call_id → server candidates before the call has media
const myTransfers = new Set(); // transfer ids this page started
const carriedOver = new Map(); // a transfer's new call id → the call ids whose media it continues
const transferredMedia = new Map(); // call id → the media of a call that ended transferred
const seen = new Set(JSON.parse(sessionStorage.getItem(SEEN) || "[]"));
const lastEvents = [];
const sent = [];
const directory = new Map();
let reqSeq = 0;
let micPromise = null;

// ---- storage ---------------------------------------------------------------

function save(patch) {
  saved = { ...(saved || {}), ...patch };
  sessionStorage.setItem(STORE, JSON.stringify(saved));
}

function remember(key) {
  seen.add(key);
  if (seen.size > 400) seen.delete(seen.values().next().value);
  sessionStorage.setItem(SEEN, JSON.stringify([...seen]));
}

// ---- the socket --------------------------------------------------------------

function connect() {
  if (phone.ws && phone.ws.readyState <= WebSocket.OPEN) return;
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  const ws = new WebSocket(url);
  phone.ws = ws;
  setStatus("connecting");
  ws.onopen = () => { phone.retry = 0; setStatus("connected"); authenticate(); };
  ws.onmessage = (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    dispatch(msg);
  };
  ws.onclose = (e) => {
    if (phone.ws !== ws) return;
    phone.ws = null;
    phone.authed = false;
    for (const [, p] of pending) p.reject(new Error("connection closed"));
    pending.clear();
    setStatus(`disconnected (${e.code})`);
    if (phone.wantOnline) {
      const delay = Math.min(5000, 250 * 2 ** phone.retry++);
      setTimeout(connect, delay);
    }
  };
}

function send(msg) {
  if (!phone.ws || phone.ws.readyState !== WebSocket.OPEN) throw new Error("not connected");
  phone.ws.send(JSON.stringify(msg));
  sent.push(strip(msg));
  if (sent.length > 300) sent.shift();
}

// request sends msg with a fresh req_id and resolves with its reply (rejects
// with the error reply). onReply runs synchronously on the reply, before any
// later message is handled.
function request(msg, onReply) {
  const req_id = String(++reqSeq);
  return new Promise((resolve, reject) => {
    pending.set(req_id, { type: msg.type, resolve, reject, onReply });
    try { send({ ...msg, req_id }); } catch (err) { pending.delete(req_id); reject(err); }
  });
}

function authenticate() {
  const sid = saved && saved.client_id === phone.client ? saved.session_id : undefined;
  if (saved && saved.access && !phone.password) {
    request({ type: "auth.token", access: saved.access, ...(saved.session_id ? { session_id: saved.session_id } : {}) })
      .catch((err) => authFailed(err, true));
  } else if (phone.password) {
    request({ type: "auth.login", client_id: phone.client, password: phone.password, ...(sid ? { session_id: sid } : {}) })
      .catch((err) => authFailed(err, false));
  } else {
    showLogin();
  }
}

function authFailed(err, withToken) {
  if (err.code === "invalid_session_id" || err.code === "forbidden") {
    // The session is gone: a new one, the calls are lost.
    save({ session_id: "" });
    for (const c of calls.values()) endCall(c, "session_lost");
    authenticate();
    return;
  }
  if (withToken && err.code === "invalid_token") {
    save({ access: "" });
    if (phone.password) { authenticate(); return; }
  }
  showLogin(err.message || String(err));
}

function scheduleRefresh(at) {
  clearTimeout(phone.refreshTimer);
  const ms = Date.parse(at) - Date.now();
  if (!(ms > 0) || !saved || !saved.refresh) return;
  phone.refreshTimer = setTimeout(() => {
    if (phone.authed) request({ type: "auth.refresh", refresh: saved.refresh }).catch(() => {});
  }, Math.min(ms, 2 ** 31 - 1));
}

// ---- messages from the server ----------------------------------------------

function dispatch(msg) {
  if (typeof msg.id === "number" && msg.id > 0) {
    const key = msg.id + ":" + msg.type;
    if (seen.has(key)) return;
    remember(key);
  }
  lastEvents.push(strip(msg));
  if (lastEvents.length > 500) lastEvents.shift();

  const p = msg.req_id ? pending.get(msg.req_id) : undefined;
  if (p) {
    pending.delete(msg.req_id);
    if (msg.type === "error") {
      const err = new Error(`${msg.code}: ${msg.message || ""}`);
      err.code = msg.code;
      p.reject(err);
      return;
    }
    if (p.onReply) p.onReply(msg);
    p.resolve(msg);
  } else if (msg.type === "error") {
    showError(`${msg.request || ""} ${msg.code}: ${msg.message || ""}`);
    return;
  }
  const h = handlers[msg.type];
  if (h) h(msg);
  render();
}

const handlers = {
  "auth.ok"(m) {
    const restoring = !!(saved && saved.session_id === m.session_id && saved.client_id === m.client_id);
    phone.authed = true;
    phone.client = m.client_id;
    phone.session = m.session_id;
    phone.device = m.device_id;
    save({ client_id: m.client_id, access: m.access, session_id: m.session_id, ...(m.refresh ? { refresh: m.refresh } : {}) });
    scheduleRefresh(m.refresh_at);
    showPhone();
    if (!restoring) {
      for (const c of calls.values()) endCall(c, "session_lost");
    }
    refreshPanels();
  },
  "session.restored"(m) {
    const live = new Set((m.calls || []).map((x) => x.call_id));
    for (const c of calls.values()) if (!live.has(c.id) && c.state !== "ended") endCall(c, "gone");
    for (const x of m.calls || []) {
      const c = ensureCall(x.call_id);
      Object.assign(c, {
        state: x.state, side: x.side, direction: x.direction, from: x.from, fromName: x.from_name, to: x.to,
        heldLocal: x.held_by === "local" || x.held_by === "both",
        heldRemote: x.held_by === "remote" || x.held_by === "both", muted: x.muted,
      });
      if ("recording" in x) restoreRecording(c, !!x.recording, x.recording_ref || "");
      if (["connecting", "active", "held"].includes(x.state)) reoffer(c).catch((err) => showError("reoffer: " + err.message));
      else if (c.media && x.state !== "ringing") dropMedia(c);
    }
  },
  "call.trying"(m) {
    const c = ensureCall(m.call_id);
    if (c.state === "new") Object.assign(c, { state: "connecting", side: "caller", direction: "outbound" });
    if (m.to) c.to = m.to;
    takeOver(c);
    if (!m.req_id && !c.media && c.transfer && c.transfer.mine) consultMedia(c);
  },
  "sdp.answer"(m) {
    const c = calls.get(m.call_id);
    if (c && c.media) applyAnswer(c.media, m.sdp).catch((err) => showError("answer: " + err.message));
  },
  "sdp.offer"(m) {
    const c = ensureCall(m.call_id);
    const deliver = (sdp) => send({ type: "sdp.answer", call_id: c.id, sdp });
    // On a call that has media already, the offer renegotiates it (a merged
    // call: the other parties' audio as more tracks); else it is new media.
    const pc = c.media && c.media.pc;
    const work = pc && pc.connectionState !== "closed" && pc.remoteDescription
      ? renegotiate(pc, m.sdp, deliver)
      : answerOffer(c, m.sdp, deliver);
    work.catch((err) => showError("offer: " + err.message));
  },
  "ice.candidate"(m) { remoteCandidate(m.call_id, { candidate: m.candidate, sdpMid: m.sdp_mid ?? null, sdpMLineIndex: m.sdp_m_line_index ?? null }); },
  "ice.done"(m) { remoteCandidate(m.call_id, null); },
  "call.ringing"(m) { const c = ensureCall(m.call_id); if (c.state === "connecting" || c.state === "new") c.state = "ringing"; },
  "call.incoming"(m) {
    const c = ensureCall(m.call_id);
    if (c.state !== "new" && c.state !== "ringing") return; // a re-delivered event of a call that went on
    if (c.media) dropMedia(c);
    Object.assign(c, { state: "ringing", side: "callee", direction: m.direction, from: m.from, fromName: m.from_name, to: m.to, offer: m.sdp });
  },
  "call.answered"(m) {
    const c = ensureCall(m.call_id);
    c.state = c.heldLocal || c.heldRemote ? "held" : "active";
    takeOver(c);
  },
  "call.ended"(m) { const c = calls.get(m.call_id); if (c) endCall(c, m.reason); },
  "call.ignored"(m) { const c = calls.get(m.call_id); if (c) endCall(c, "ignored"); },
  "call.held"(m) {
    const c = ensureCall(m.call_id);
    if (m.held_by === "local") c.heldLocal = true; else c.heldRemote = true;
    c.state = "held";
  },
  "call.resumed"(m) {
    const c = ensureCall(m.call_id);
    if (m.resumed_by === "local") c.heldLocal = false; else c.heldRemote = false;
    c.state = m.held ? "held" : "active";
  },
  "call.hold_not_available"(m) { showError(`hold not available: ${m.reason}`); },
  "call.muted"(m) { const c = ensureCall(m.call_id); if (m.side === "local") c.muted = true; else c.remoteMuted = true; },
  "call.unmuted"(m) { const c = ensureCall(m.call_id); if (m.side === "local") c.muted = false; else c.remoteMuted = false; },
  "call.dtmf"(m) { const c = ensureCall(m.call_id); c.dtmf.push({ digits: m.digits, from: m.from }); },
  "call.parked"(m) {
    const c = ensureCall(m.call_id);
    c.state = "parked";
    c.slot = m.slot;
    if (m.by === "local") { dropMedia(c); endCall(c, "parked"); }
  },
  "call.unparked"(m) { const c = ensureCall(m.call_id); c.state = "active"; c.slot = ""; },
  "call.merged"(m) { const c = ensureCall(m.call_id); c.conference = m.conference_id; },
  "call.voicemail"(m) { const c = ensureCall(m.call_id); c.voicemail = true; },
  // Recording events come to every party's connections, whoever started
  // or stopped it (by: local or remote).
  "recording.started"(m) {
    const c = ensureCall(m.call_id);
    Object.assign(c, { recording: true, recBy: m.by || "", recRef: m.ref || "" });
  },
  "recording.stopped"(m) { const c = ensureCall(m.call_id); finishRecording(c, m.by || ""); },
  "presence.changed"(m) {
    if (m.client_id === phone.client) { phone.presence = m.presence; $("#presence-select").value = m.presence; }
    const d = directory.get(m.client_id);
    if (d) d.presence = m.presence;
    renderDirectory();
  },
  "directory.result"(m) {
    directory.clear();
    for (const e of m.entries || []) directory.set(e.client_id, e);
    renderDirectory();
  },
  "history.result"(m) { renderList("#history", m.entries || [], historyLine); },
  "voicemail.result"(m) {
    $("#voicemail-counts").textContent = m.counts ? `${m.counts.new} new, ${m.counts.total} in all` : "";
    renderList("#voicemail", m.messages || [], (v) => `${v.new ? "● " : ""}${party(v.from)} ${short(v.at)} ${Math.round((v.duration_ns || 0) / 1e9)} s`);
  },
};
for (const t of ["transfer.initiated", "transfer.answered", "transfer.not_answered", "transfer.completed",
  "transfer.not_completed", "transfer.canceled", "transfer.failed"]) {
  handlers[t] = transferEvent;
}

// transferEvent keeps a transfer's ids on its calls. A party this page did
// not transfer itself keeps its audio across the transfer: the relay keeps
// its leg and no new offer comes, so its media goes on under the new call's
// id as soon as that call shows up (takeOver).
function transferEvent(m) {
  for (const id of [m.call_id, m.consult_call_id, m.new_call_id]) {
    const c = id && calls.get(id);
    if (c) c.transfer = { id: m.transfer_id, kind: m.kind, state: m.state, mine: myTransfers.has(m.transfer_id) };
  }
  if (myTransfers.has(m.transfer_id) || !m.new_call_id) return;
  carriedOver.set(m.new_call_id, [m.call_id, m.consult_call_id].filter(Boolean));
  if (m.type === "transfer.completed") takeOver(ensureCall(m.new_call_id));
}

// takeOver gives call c, the new call of a transfer, the media of the call
// it continues.
function takeOver(c) {
  const from = carriedOver.get(c.id);
  if (!from || c.media) return;
  for (const id of from) {
    const old = calls.get(id);
    const m = (old && old.media) || transferredMedia.get(id);
    if (m && m.pc.connectionState !== "closed") {
      attach(m, c);
      carriedOver.delete(c.id);
      if (old && c.state === "new") Object.assign(c, { state: "connecting", side: old.side, from: old.from, fromName: old.fromName, to: old.to });
      return;
    }
  }
}

// consultMedia: the consultation call of our own attended transfer should
// get an sdp.offer right after its call.trying (the protocol says so). A
// server that instead carries our leg of the first call over to it sends
// none: then the consultation goes on with the first call's media.
function consultMedia(c) {
  setTimeout(() => {
    if (c.media || c.state === "ended") return;
    const first = [...calls.values()].find((o) => o !== c && o.media && o.transfer && c.transfer && o.transfer.id === c.transfer.id);
    if (first) { attach(first.media, c); render(); }
  }, 500);
}

// ---- calls -------------------------------------------------------------------

function ensureCall(id) {
  let c = calls.get(id);
  if (!c) {
    c = {
      id, state: "new", side: "", direction: "", from: "", fromName: "", to: "",
      heldLocal: false, heldRemote: false, muted: false, remoteMuted: false,
      offer: "", media: null, dtmf: [], transfer: null, slot: "", conference: "", reason: "", voicemail: false, el: null,
      recording: false, recBy: "", recRef: "", recordings: [], // recordings: the finished ones, {ref, by, state, url, size, error}
      statsOpen: false, statsTimer: 0, statsBusy: false, serverStats: null, statsError: "",
    };
    calls.set(id, c);
  }
  return c;
}

function endCall(c, reason) {
  if (c.state === "ended") return;
  c.state = "ended";
  c.reason = reason;
  closeStats(c);
  // The call's end completes its recording's file (a parked call goes on,
  // recorded, without this page).
  if (c.recording) { if (reason === "parked") c.recording = false; else finishRecording(c, ""); }
  if (c.media) {
    const m = c.media;
    c.media = null;
    m.calls.delete(c.id);
    if (m.calls.size === 0) {
      // A transferred party's media may be taken over by the new call a
      // moment later: wait a little before closing it.
      if (reason === "transferred" && !(c.transfer && c.transfer.mine)) {
        transferredMedia.set(c.id, m);
        setTimeout(() => { transferredMedia.delete(c.id); if (m.calls.size === 0) closeMedia(m); }, 5000);
      }
      else closeMedia(m);
    }
  }
  if (phone.selected === c.id) phone.selected = "";
  // A call with a finished recording stays, for its download, until dismissed.
  setTimeout(() => { if (c.state === "ended" && !c.recordings.length) removeCall(c); }, 4000);
}

function removeCall(c) {
  closeStats(c);
  for (const r of c.recordings) if (r.url) URL.revokeObjectURL(r.url);
  calls.delete(c.id);
  c.el?.remove();
  render();
}

function summary(c) {
  return {
    call_id: c.id, state: c.state, side: c.side, direction: c.direction, from: c.from, from_name: c.fromName, to: c.to,
    held_by: heldBy(c), muted: c.muted, remote_muted: c.remoteMuted, dtmf: c.dtmf.slice(), transfer: c.transfer && { ...c.transfer },
    slot: c.slot, conference: c.conference, reason: c.reason, media: c.media ? c.media.pc.connectionState : "",
    recording: c.recording, recorded_by: c.recBy, recording_ref: c.recording ? c.recRef : "", recordings: c.recordings.map((r) => ({ ref: r.ref, state: r.state, size: r.size })),
    stats_open: c.statsOpen,
  };
}

function heldBy(c) {
  return c.heldLocal && c.heldRemote ? "both" : c.heldLocal ? "local" : c.heldRemote ? "remote" : "";
}

function liveCalls() { return [...calls.values()].filter((c) => c.state !== "ended" && c.state !== "new"); }

function currentCall() {
  const sel = calls.get(phone.selected);
  if (sel && sel.state !== "ended") return sel;
  return liveCalls().find((c) => c.state === "active") || null;
}

// ---- media -------------------------------------------------------------------

function mic() {
  micPromise ??= navigator.mediaDevices.getUserMedia({ audio: true }).catch((err) => { micPromise = null; throw err; });
  return micPromise;
}

function newMedia() {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const audio = document.createElement("audio");
  audio.autoplay = true;
  $("#audio-sink").append(audio);
  const m = { pc, audio, calls: new Set(), callId: "", signalled: false, localQueue: [], remoteSet: false, remoteQueue: [] };
  pc.ontrack = (e) => { audio.srcObject = e.streams[0] || new MediaStream([e.track]); };
  pc.onicecandidate = (e) => {
    if (e.candidate && !e.candidate.candidate) return; // end of a generation
    const msg = e.candidate
      ? { type: "ice.candidate", candidate: e.candidate.candidate, sdp_mid: e.candidate.sdpMid, sdp_m_line_index: e.candidate.sdpMLineIndex }
      : { type: "ice.done" };
    if (m.signalled) sendIce(m, msg); else m.localQueue.push(msg);
  };
  pc.onconnectionstatechange = () => render();
  return m;
}

function attach(m, c) {
  if (c.media && c.media !== m) dropMedia(c);
  c.media = m;
  m.calls.add(c.id);
  if (!m.callId) m.callId = c.id;
}

function dropMedia(c) {
  const m = c.media;
  if (!m) return;
  c.media = null;
  m.calls.delete(c.id);
  if (m.calls.size === 0) closeMedia(m);
}

function closeMedia(m) {
  try { m.pc.close(); } catch { /* closed */ }
  m.audio.srcObject = null;
  m.audio.remove();
}

function sendIce(m, msg) {
  try { send({ ...msg, call_id: m.callId }); } catch { /* the socket dropped: the reconnect re-offers */ }
}

// signalled: the call id is known and the message carrying our description
// is out, so our candidates may follow it.
function signalled(m, callId) {
  m.callId = callId;
  m.signalled = true;
  for (const msg of m.localQueue.splice(0)) sendIce(m, msg);
}

function remoteCandidate(callId, cand) {
  const c = calls.get(callId);
  const m = c && c.media;
  if (!m) {
    if (!orphanCandidates.has(callId)) orphanCandidates.set(callId, []);
    orphanCandidates.get(callId).push(cand);
    return;
  }
  if (!m.remoteSet) { m.remoteQueue.push(cand); return; }
  addCandidate(m, cand);
}

function addCandidate(m, cand) {
  m.pc.addIceCandidate(cand || undefined).catch((err) => console.debug("candidate", err));
}

function remoteSet(m, callId) {
  m.remoteSet = true;
  const early = orphanCandidates.get(callId) || [];
  orphanCandidates.delete(callId);
  for (const cand of [...early, ...m.remoteQueue.splice(0)]) addCandidate(m, cand);
}

async function addMic(m) {
  const stream = await mic();
  for (const t of stream.getAudioTracks()) m.pc.addTrack(t, stream);
}

async function applyAnswer(m, sdp) {
  if (m.pc.signalingState !== "have-local-offer") return;
  await m.pc.setRemoteDescription({ type: "answer", sdp });
  remoteSet(m, m.callId);
}

// answerOffer answers an offer of the relay for call c; deliver sends the
// answer (call.answer, sdp.answer or call.swap).
async function renegotiate(pc, offer, deliver) {
  await pc.setRemoteDescription({ type: "offer", sdp: offer });
  await pc.setLocalDescription(await pc.createAnswer());
  deliver(pc.localDescription.sdp);
}

async function answerOffer(c, offer, deliver) {
  const m = newMedia();
  attach(m, c);
  m.callId = c.id;
  await m.pc.setRemoteDescription({ type: "offer", sdp: offer });
  remoteSet(m, c.id);
  await addMic(m);
  await m.pc.setLocalDescription(await m.pc.createAnswer());
  const r = deliver(m.pc.localDescription.sdp);
  signalled(m, c.id);
  await r;
}

async function dial(destination) {
  destination = String(destination || "").trim();
  if (!destination) return;
  const m = newMedia();
  try {
    await addMic(m);
    await m.pc.setLocalDescription(await m.pc.createOffer());
    await request({ type: "call.create", destination, sdp: m.pc.localDescription.sdp }, (reply) => {
      const c = ensureCall(reply.call_id);
      Object.assign(c, { state: "connecting", side: "caller", direction: "outbound", to: reply.to || destination });
      attach(m, c);
      phone.selected = c.id;
      signalled(m, c.id);
    });
  } catch (err) {
    if (m.calls.size === 0) closeMedia(m);
    showError("call: " + err.message);
  }
}

async function reoffer(c) {
  dropMedia(c);
  const m = newMedia();
  attach(m, c);
  await addMic(m);
  await m.pc.setLocalDescription(await m.pc.createOffer());
  const r = request({ type: "call.reoffer", call_id: c.id, sdp: m.pc.localDescription.sdp });
  signalled(m, c.id);
  await r; // the sdp.answer reply is applied by its handler
}

async function answer(c, viaSwap) {
  const offer = c.offer;
  if (!offer) throw new Error("no offer for this call");
  await answerOffer(c, offer, (sdp) => request(viaSwap ? { type: "call.swap", call_id: c.id, sdp } : { type: "call.answer", call_id: c.id, sdp }));
  phone.selected = c.id;
}

async function stats(callId) {
  const c = calls.get(callId);
  if (!c || !c.media) return null;
  const out = { inboundBytes: 0, outboundBytes: 0, inboundPackets: 0, outboundPackets: 0, connectionState: c.media.pc.connectionState };
  (await c.media.pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") { out.inboundBytes += s.bytesReceived || 0; out.inboundPackets += s.packetsReceived || 0; }
    if (s.type === "outbound-rtp" && s.kind === "audio") { out.outboundBytes += s.bytesSent || 0; out.outboundPackets += s.packetsSent || 0; }
  });
  return out;
}

// ---- call statistics from the server (call.stats) ------------------------------

// serverStats asks the server for the relay's figures of both sides of the
// call: the legs of stats.result (docs/websocket-protocol.md). stats()
// above is what this page's own peer connection counts.
async function serverStats(callId) {
  const r = await request({ type: "call.stats", call_id: callId });
  return r.legs || [];
}

// The stats panel of a call asks once a second while it is open and the
// call lasts.
function openStats(c) {
  if (c.statsOpen) return;
  Object.assign(c, { statsOpen: true, serverStats: null, statsError: "" });
  pollStats(c);
  c.statsTimer = setInterval(() => pollStats(c), 1000);
}

function closeStats(c) {
  c.statsOpen = false;
  clearInterval(c.statsTimer);
  c.statsTimer = 0;
}

async function pollStats(c) {
  if (!c.statsOpen || c.statsBusy) return;
  if (c.state === "ended") { closeStats(c); render(); return; }
  c.statsBusy = true;
  try {
    const legs = await serverStats(c.id);
    if (c.statsOpen) { c.serverStats = { legs, at: new Date() }; c.statsError = ""; }
  } catch (err) {
    if (c.statsOpen) c.statsError = err.message || String(err);
  } finally {
    c.statsBusy = false;
    render();
  }
}

// ---- recordings ------------------------------------------------------------------

function finishRecording(c, by) {
  if (!c.recording) return;
  c.recording = false;
  if (c.recRef && !c.recordings.some((r) => r.ref === c.recRef)) {
    c.recordings.push({ ref: c.recRef, by, state: "", url: "", size: 0, error: "" });
  }
}

// restoreRecording applies a call's recording state from session.restored:
// after a reload the page learns of a recording under way (who started it
// is not said), and after a reconnect a recording it knew that stopped
// meanwhile is finished, offering its download as recording.stopped does.
function restoreRecording(c, recording, ref) {
  if (c.recording && (!recording || (ref && c.recRef !== ref))) finishRecording(c, "");
  if (recording && !c.recording) Object.assign(c, { recording: true, recBy: "", recRef: ref });
}

// wavComplete: the relay writes a 44-byte header whose sizes it fills in
// when the recording stops; until then they say 0.
function wavComplete(head, size) {
  if (head.byteLength < 44 || size < 44) return false;
  const tag = (o) => String.fromCharCode(head.getUint8(o), head.getUint8(o + 1), head.getUint8(o + 2), head.getUint8(o + 3));
  return tag(0) === "RIFF" && tag(8) === "WAVE" && tag(36) === "data" &&
    head.getUint32(4, true) === size - 8 && head.getUint32(40, true) === size - 44;
}

// fetchRecording gets GET /recordings/<ref>.wav with this page's access
// token (a plain link cannot send it). The server completes the file a
// moment after the stop: an incomplete one is asked for again, a few times.
async function fetchRecording(ref) {
  const url = "/recordings/" + ref.split("/").map(encodeURIComponent).join("/") + ".wav";
  for (let attempt = 1; ; attempt++) {
    if (!saved || !saved.access) throw new Error("recording: not logged in");
    const res = await fetch(url, { headers: { Authorization: "Bearer " + saved.access }, cache: "no-store" });
    if (!res.ok) throw new Error(`recording: ${res.status} ${(await res.text()).trim()}`);
    const blob = await res.blob();
    const head = new DataView(await blob.slice(0, 44).arrayBuffer());
    if (wavComplete(head, blob.size) || attempt >= 10) return blob;
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function downloadRecording(c, ref) {
  const rec = c.recordings.find((r) => r.ref === ref);
  if (!rec) throw new Error("no such recording");
  if (rec.state === "fetching") return;
  Object.assign(rec, { state: "fetching", error: "" });
  render();
  try {
    const blob = await fetchRecording(ref);
    if (rec.url) URL.revokeObjectURL(rec.url);
    Object.assign(rec, { state: "ready", url: URL.createObjectURL(blob), size: blob.size });
  } catch (err) {
    Object.assign(rec, { state: "failed", error: err.message || String(err) });
    throw err;
  } finally {
    render();
  }
  const a = document.createElement("a"); // save it once; the card keeps a link to save it again
  a.href = rec.url;
  a.download = recordingName(ref);
  document.body.append(a);
  a.click();
  a.remove();
}

function recordingName(ref) { return "callengine-" + ref.replace(/^rec\//, "").replaceAll("/", "-") + ".wav"; }

// ---- user actions --------------------------------------------------------------

function act(promise) { Promise.resolve(promise).catch((err) => showError(err.message || String(err))); }

async function callAction(c, what, el, button) {
  const to = $(".transfer-to", el).value.trim();
  switch (what) {
    case "answer": return answer(c, false);
    case "reject": return request({ type: "call.reject", call_id: c.id });
    case "busy": return request({ type: "call.reject", call_id: c.id, busy: true });
    case "ignore": return request({ type: "call.ignore", call_id: c.id });
    case "hangup": return request({ type: "call.hangup", call_id: c.id });
    case "hold": return request({ type: "call.hold", call_id: c.id });
    case "resume": return request({ type: "call.resume", call_id: c.id });
    case "mute": return request({ type: "call.mute", call_id: c.id });
    case "unmute": return request({ type: "call.unmute", call_id: c.id });
    case "swap":
      phone.selected = c.id;
      return c.state === "ringing" && c.side === "callee" ? answer(c, true) : request({ type: "call.swap", call_id: c.id });
    case "park": return request({ type: "call.park", call_id: c.id });
    case "merge": {
      const other = liveCalls().find((o) => o !== c && (o.state === "held" || o.state === "active"));
      if (!other) throw new Error("merge: no other call");
      return request({ type: "call.merge", call_id: c.id, other_call_id: other.id });
    }
    case "blind":
    case "attended": {
      if (!to) throw new Error("transfer: whom to?");
      const ack = await request({ type: what === "blind" ? "transfer.blind" : "transfer.attended", call_id: c.id, to });
      myTransfers.add(ack.transfer_id);
      c.transfer = { id: ack.transfer_id, kind: what, state: "", mine: true };
      if (ack.consult_call_id) {
        const k = ensureCall(ack.consult_call_id);
        k.transfer = { ...c.transfer };
        phone.selected = k.id;
      }
      render();
      return ack;
    }
    case "complete":
    case "cancel":
      if (!c.transfer) throw new Error("no transfer on this call");
      return request({ type: what === "complete" ? "transfer.complete" : "transfer.cancel", transfer_id: c.transfer.id });
    case "stats":
      if (c.statsOpen) closeStats(c); else openStats(c);
      return render();
    case "stats-close": closeStats(c); return render();
    case "record": return request({ type: "recording.start", call_id: c.id });
    case "record-stop": return request({ type: "recording.stop", call_id: c.id });
    case "rec-download": return downloadRecording(c, button.dataset.ref);
    case "dismiss": return removeCall(c);
  }
}

function key(k) {
  const c = currentCall();
  if (c) {
    act(request({ type: "call.dtmf", call_id: c.id, digits: k }));
  } else {
    $("#dial-input").value += k;
  }
}

function refreshPanels() {
  if (!phone.authed) return;
  act(request({ type: "directory.query", search: $("#directory-search").value.trim(), limit: 50 }));
  act(request({ type: "history.query", limit: 20 }));
  act(request({ type: "voicemail.list" }));
}

// ---- rendering ---------------------------------------------------------------

function setStatus(s) { phone.status = s; $("#conn-status").textContent = s; $("#conn-status").dataset.state = s.split(" ")[0]; }

function showLogin(error) {
  $("#login-panel").hidden = false;
  $("#phone").hidden = true;
  $("#logout").hidden = true;
  if (saved && saved.client_id) $("#login-client").value = saved.client_id;
  $("#login-error").textContent = error || "";
}

function showPhone() {
  $("#login-panel").hidden = true;
  $("#phone").hidden = false;
  $("#logout").hidden = false;
  $("#whoami").textContent = phone.client;
  $("#login-error").textContent = "";
}

function showError(text) {
  $("#error-line").textContent = text;
  console.warn("softphone:", text);
}

function render() {
  const list = $("#calls");
  const live = liveCalls();
  $("#no-calls").hidden = calls.size > 0;
  for (const c of calls.values()) {
    if (c.state === "new") continue;
    if (!c.el) {
      c.el = $("#call-template").content.firstElementChild.cloneNode(true);
      c.el.dataset.callId = c.id;
      c.el.dataset.testid = "call";
      c.el.addEventListener("click", (e) => {
        const b = e.target.closest("button[data-act]");
        if (b) act(callAction(c, b.dataset.act, c.el, b));
        else if (c.state !== "ended") { phone.selected = c.id; render(); }
      });
      list.append(c.el);
    }
    const el = c.el;
    el.dataset.state = c.state;
    el.classList.toggle("selected", phone.selected === c.id);
    $(".call-peer", el).textContent = c.side === "callee" ? `${c.fromName || c.from} → me` : `me → ${c.to}`;
    $(".call-state", el).textContent = c.state === "ended" ? `ended (${c.reason})` : c.state;
    const flags = [];
    if (heldBy(c)) flags.push(`held by ${heldBy(c)}`);
    if (c.muted) flags.push("muted");
    if (c.remoteMuted) flags.push("other side muted");
    if (c.slot) flags.push(`slot ${c.slot}`);
    if (c.conference) flags.push("conference");
    if (c.transfer) flags.push(`transfer ${c.transfer.kind} ${c.transfer.state}`);
    if (c.media) flags.push(`media ${c.media.pc.connectionState}`);
    $(".call-flags", el).textContent = flags.join(" · ");
    $(".call-dtmf", el).textContent = c.dtmf.length ? "DTMF: " + c.dtmf.map((d) => `${d.from === "local" ? "→" : "←"}${d.digits}`).join(" ") : "";
    const ringingIn = c.state === "ringing" && c.side === "callee";
    const up = c.state === "active" || c.state === "held";
    const others = live.length > 1;
    $(".call-ringing", el).hidden = !ringingIn;
    $(".call-controls", el).hidden = c.state === "ended";
    $(".call-transfer", el).hidden = !up;
    const show = {
      hangup: !ringingIn, hold: up && !c.heldLocal, resume: c.heldLocal, mute: up && !c.muted, unmute: up && c.muted,
      swap: others && (ringingIn || up), park: up, merge: up && others,
      "transfer-complete": !!(c.transfer && c.transfer.mine && c.transfer.kind !== "blind"),
      "transfer-cancel": !!(c.transfer && c.transfer.mine && c.transfer.kind !== "blind"),
      stats: up || c.statsOpen, record: up && !c.recording, "record-stop": up && c.recording,
      dismiss: c.state === "ended" && c.recordings.length > 0,
    };
    for (const [k, v] of Object.entries(show)) $(`[data-testid="${k}"]`, el).hidden = !v;
    $('[data-testid="stats"]', el).textContent = c.statsOpen ? "Hide stats" : "Stats";
    renderRecording(c, el);
    renderStats(c, el);
  }
}

function renderRecording(c, el) {
  $(".call-rec-row", el).hidden = !c.recording && !c.recordings.length;
  const line = $(".call-rec", el);
  line.dataset.recording = String(c.recording);
  const by = (b) => (b === "local" ? "me" : b === "remote" ? "the other party" : "");
  if (c.recording) line.textContent = `● recording${c.recBy ? ` (started by ${by(c.recBy)})` : ""}`;
  else if (c.recordings.length) {
    const last = c.recordings[c.recordings.length - 1];
    line.textContent = `recorded${last.by ? ` (stopped by ${by(last.by)})` : ""}:`;
  } else line.textContent = "";
  const sig = c.recordings.map((r) => [r.ref, r.state, r.url, r.error].join("|")).join(",");
  const box = $(".call-recordings", el);
  if (box.dataset.sig === sig) return;
  box.dataset.sig = sig;
  box.replaceChildren(...c.recordings.map((r, i) => {
    const n = c.recordings.length > 1 ? ` ${i + 1}` : "";
    if (r.state === "ready") {
      const a = document.createElement("a");
      Object.assign(a, { href: r.url, download: recordingName(r.ref), textContent: `Save recording${n} (${kB(r.size)})` });
      a.dataset.testid = "rec-link";
      a.dataset.ref = r.ref;
      a.dataset.size = String(r.size);
      return a;
    }
    const b = document.createElement("button");
    b.className = "small-inline";
    b.dataset.act = "rec-download";
    b.dataset.testid = "rec-download";
    b.dataset.ref = r.ref;
    b.disabled = r.state === "fetching";
    b.textContent = r.state === "fetching" ? `Fetching recording${n}…` : r.state === "failed" ? `Retry download${n}` : `Download recording${n}`;
    if (r.error) b.title = r.error;
    return b;
  }));
}

function kB(n) { return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} kB`; }

function renderStats(c, el) {
  const panel = $(".call-stats", el);
  panel.hidden = !c.statsOpen;
  if (!c.statsOpen) return;
  const note = $(".call-stats-note", el);
  const s = c.serverStats;
  if (c.statsError) note.textContent = "stats: " + c.statsError;
  else note.textContent = s ? `relay figures at ${s.at.toLocaleTimeString()}; in: sent by that side to the relay, out: sent to it` : "asking…";
  const at = s ? String(s.at.getTime()) : "";
  if (panel.dataset.at === at) return;
  panel.dataset.at = at;
  $("tbody", panel).replaceChildren(...(s ? s.legs : []).map((l) => {
    const tr = document.createElement("tr");
    tr.dataset.side = l.side;
    const who = l.side === c.side ? "me" : "other";
    const cells = l.media
      ? { side: `${who} (${l.side})`, codec: l.codec || "?", in: l.packets_in, out: l.packets_out, dropped: l.packets_dropped,
        lost: l.packets_lost, jitter: `${(l.jitter_ms || 0).toFixed(1)} ms` }
      : { side: `${who} (${l.side})`, codec: "not on the relay", in: "", out: "", dropped: "", lost: "", jitter: "" };
    for (const [f, v] of Object.entries(cells)) {
      const td = document.createElement("td");
      td.dataset.f = f;
      td.textContent = String(v);
      tr.append(td);
    }
    return tr;
  }));
}

function renderDirectory() {
  const ul = $("#directory");
  ul.replaceChildren();
  for (const e of directory.values()) {
    if (e.client_id === phone.client) continue;
    const li = document.createElement("li");
    li.dataset.testid = "dir-" + e.client_id;
    li.className = "presence-" + e.presence;
    const target = (e.extensions || [])[0] || (e.numbers || [])[0] || e.client_id;
    li.textContent = `${e.name || e.client_id} (${target}) — ${e.presence}${e.activity ? ": " + e.activity : ""}`;
    li.title = "click to call " + target;
    li.addEventListener("click", () => act(dial(target)));
    ul.append(li);
  }
}

function renderList(sel, items, line) {
  const ul = $(sel);
  ul.replaceChildren(...items.map((x) => { const li = document.createElement("li"); li.textContent = line(x); return li; }));
}

function party(p) { return p ? p.name || p.number || p.client || "?" : "?"; }
function short(t) { return t ? String(t).replace("T", " ").slice(0, 19) : ""; }
function historyLine(e) {
  const talk = e.talk_duration_ns ? ` ${Math.round(e.talk_duration_ns / 1e9)} s` : "";
  return `${e.kind} ${party(e.other)} ${short(e.setup_at)}${talk}${e.reason ? " " + e.reason : ""}`;
}

function strip(msg) {
  if (!msg.sdp) return msg;
  return { ...msg, sdp: msg.sdp.slice(0, 16) + "…" };
}

// ---- wiring the page ------------------------------------------------------------

$("#login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const client = $("#login-client").value.trim();
  if (saved && saved.client_id !== client) { saved = null; sessionStorage.removeItem(STORE); }
  phone.client = client;
  phone.password = $("#login-password").value;
  phone.wantOnline = true;
  if (phone.ws && phone.ws.readyState === WebSocket.OPEN) authenticate(); else connect();
});
$("#logout").addEventListener("click", () => {
  phone.wantOnline = false;
  phone.password = "";
  for (const c of calls.values()) if (c.state !== "ended") act(request({ type: "call.hangup", call_id: c.id }));
  sessionStorage.removeItem(STORE);
  sessionStorage.removeItem(SEEN);
  saved = null;
  setTimeout(() => { phone.ws?.close(1000); showLogin(); }, 200);
});
$("#dial-button").addEventListener("click", () => act(dial($("#dial-input").value)));
$("#dial-input").addEventListener("keydown", (e) => { if (e.key === "Enter") act(dial($("#dial-input").value)); });
$("#echo-button").addEventListener("click", () => act(dial("600")));
$("#keypad").addEventListener("click", (e) => { const b = e.target.closest("button[data-key]"); if (b) key(b.dataset.key); });
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
  if (/^[0-9*#]$/.test(e.key) && currentCall()) key(e.key);
});
$("#unpark-button").addEventListener("click", () => {
  const slot = $("#unpark-slot").value.trim();
  if (slot) act(request({ type: "call.unpark", slot }));
});
$("#presence-select").addEventListener("change", (e) => act(request({ type: "presence.set", presence: e.target.value })));
$("#directory-refresh").addEventListener("click", refreshPanels);
$("#directory-search").addEventListener("keydown", (e) => { if (e.key === "Enter") refreshPanels(); });
$("#history-refresh").addEventListener("click", () => act(request({ type: "history.query", limit: 20 })));
$("#voicemail-refresh").addEventListener("click", () => act(request({ type: "voicemail.list" })));

// The hook for automated tests: read-only views of what the page knows.
window.softphone = {
  state: () => ({ status: phone.status, authed: phone.authed, client: phone.client, session: phone.session, device: phone.device, presence: phone.presence }),
  calls: () => [...calls.values()].filter((c) => c.state !== "new").map(summary),
  stats,
  serverStats,
  lastEvents,
  sent,
};

if (saved && saved.access && saved.session_id) {
  // A reload: the same session, its calls come back with fresh media.
  phone.client = saved.client_id;
  phone.wantOnline = true;
  connect();
} else {
  showLogin();
}
render();
