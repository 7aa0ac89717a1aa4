#!/usr/bin/env node
// js-libp2p interop peer for the p2pstack test-suite (Node 20, libp2p 2.x).
//
// CLI contract (shared with ../py/peer.py):
//   node peer.mjs listen --listen MA [--listen MA ...] [--seed LABEL] [--mdns [--mdns-dial]]
//                        [--autonat]
//   node peer.mjs dial MA [--seed LABEL] [--ping N] [--identify] [--echo BYTES] [--streams K]
//                         [--perf-upload BYTES] [--perf-download BYTES] [--timeout S]
//
// `listen` prints one JSON line {"peer_id", "listen_addrs"} on stdout and runs until
// SIGTERM, SIGINT or EOF on stdin. `dial` prints one JSON line with the results and
// exits 0, or prints a one-line error on stderr and exits 1. Logs go to stderr.
// Transports: TCP and WebSocket; security: Noise (or TLS with --security tls); muxer: Yamux only.
// Services: ping, identify, echo (@libp2p/echo) and a hand-written /perf/1.0.0.
// `listen --mdns` also runs @libp2p/mdns discovery (every interface of the host or network
// namespace: run it only inside a test's namespace) and prints, after the listening line,
// one JSON line {"discovered": "<peer id>", "addrs": [...]} per peer found; with
// `--mdns-dial` it then dials that peer, pings it and prints {"connected": "<peer id>",
// "ping_ms": N} (or {"dial_failed": "<peer id>", "error": "..."}).
// `listen --autonat` adds @libp2p/autonat (AutoNAT v1, server and client; its dial-backs use
// fresh connections, see freshDialBacks) and prints {"verified_addrs": [...]} whenever the
// node's verified addresses change.

import { createHash, randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { noise } from '@chainsafe/libp2p-noise'
import { tls } from '@libp2p/tls'
import { yamux } from '@chainsafe/libp2p-yamux'
import { autoNAT } from '@libp2p/autonat'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { echo } from '@libp2p/echo'
import { identify } from '@libp2p/identify'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const PING = '/ipfs/ping/1.0.0'
const ECHO = '/echo/1.0.0'
const PERF = '/perf/1.0.0'
const CHUNK = 64 * 1024
const ZEROS = new Uint8Array(CHUNK)
const STREAM_LIMIT = 1024

const log = (...args) => {
  if (process.env.INTEROP_PEER_LOG != null && process.env.INTEROP_PEER_LOG.toLowerCase() !== 'warning') {
    process.stderr.write(`js-peer: ${args.join(' ')}\n`)
  }
}

class PeerError extends Error {
  constructor (message) {
    super(message)
    this.name = 'PeerError'
  }
}

// ------------------------------------------------------------------ arguments

function usage (msg) {
  process.stderr.write(`error: ${msg}\nusage: peer.mjs listen --listen MA [--listen MA ...] [--seed LABEL] [--security noise|tls] [--mdns [--mdns-dial]]\n` +
    '       peer.mjs dial MA [--seed LABEL] [--security noise|tls] [--ping N] [--identify] [--echo BYTES] [--streams K] ' +
    '[--perf-upload BYTES] [--perf-download BYTES] [--timeout S]\n')
  process.exit(2)
}

function parseArgs (argv) {
  const cmd = argv[0]
  if (cmd !== 'listen' && cmd !== 'dial') usage('first argument must be "listen" or "dial"')
  const args = { cmd, listen: [], seed: undefined, target: undefined, timeout: 300, security: 'noise' }
  const int = (name, v) => {
    if (v == null || !/^\d+$/.test(v)) usage(`${name} needs a non-negative integer`)
    return Number(v)
  }
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--seed') args.seed = next()
    else if (a === '--security') {
      args.security = next()
      if (args.security !== 'noise' && args.security !== 'tls') usage('--security must be noise or tls')
    }
    else if (cmd === 'listen' && a === '--listen') args.listen.push(next())
    else if (cmd === 'listen' && a === '--mdns') args.mdns = true
    else if (cmd === 'listen' && a === '--mdns-dial') args.mdnsDial = true
    else if (cmd === 'listen' && a === '--autonat') args.autonat = true
    else if (cmd === 'dial' && a === '--ping') args.ping = int(a, next())
    else if (cmd === 'dial' && a === '--identify') args.identify = true
    else if (cmd === 'dial' && a === '--echo') args.echo = int(a, next())
    else if (cmd === 'dial' && a === '--streams') args.streams = int(a, next())
    else if (cmd === 'dial' && a === '--perf-upload') args.perfUpload = int(a, next())
    else if (cmd === 'dial' && a === '--perf-download') args.perfDownload = int(a, next())
    else if (cmd === 'dial' && a === '--timeout') args.timeout = Number(next())
    else if (cmd === 'dial' && !a.startsWith('--') && args.target == null) args.target = a
    else usage(`unexpected argument ${a}`)
  }
  if (cmd === 'listen' && args.listen.length === 0) usage('listen needs at least one --listen MA')
  if (args.mdnsDial && !args.mdns) usage('--mdns-dial requires --mdns')
  if (cmd === 'dial') {
    if (args.target == null) usage('dial needs a multiaddr')
    if (args.streams != null && args.echo == null) usage('--streams requires --echo')
    if (args.streams != null && args.streams < 1) usage('--streams must be >= 1')
  }
  return args
}

// -------------------------------------------------------------- stream helpers

// Buffered reader over a libp2p stream source (async iterable of Uint8ArrayList).
class Reader {
  constructor (source) {
    this.it = source[Symbol.asyncIterator]()
    this.chunks = []
    this.length = 0
    this.done = false
  }

  async fill () {
    if (this.done) return false
    const { value, done } = await this.it.next()
    if (done) {
      this.done = true
      return false
    }
    const bytes = value.subarray()
    if (bytes.byteLength > 0) {
      this.chunks.push(bytes)
      this.length += bytes.byteLength
    }
    return true
  }

  async readExact (n) {
    while (this.length < n) {
      if (!(await this.fill())) throw new PeerError(`unexpected EOF after ${this.length} of ${n} bytes`)
    }
    const out = new Uint8Array(n)
    let off = 0
    while (off < n) {
      const c = this.chunks[0]
      const take = Math.min(c.byteLength, n - off)
      out.set(c.subarray(0, take), off)
      off += take
      if (take === c.byteLength) this.chunks.shift()
      else this.chunks[0] = c.subarray(take)
    }
    this.length -= n
    return out
  }

  // Consume everything until EOF, calling onChunk for each buffered/arriving chunk.
  async drain (onChunk) {
    for (const c of this.chunks) onChunk(c)
    this.chunks = []
    this.length = 0
    while (await this.fill()) {
      for (const c of this.chunks) onChunk(c)
      this.chunks = []
      this.length = 0
    }
  }
}

function * zeros (n) {
  while (n > 0) {
    const k = Math.min(n, CHUNK)
    yield k === CHUNK ? ZEROS : ZEROS.subarray(0, k)
    n -= k
  }
}

function be64 (n) {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(n))
  return b
}

function equalBytes (a, b) {
  return a.byteLength === b.byteLength && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0
}

// /perf/1.0.0 server (wire.md §7): read BE64 n, drain until EOF, then send n bytes, close.
function perfHandler ({ stream }) {
  Promise.resolve().then(async () => {
    const reader = new Reader(stream.source)
    const header = await reader.readExact(8)
    const n = new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0)
    let drained = 0
    await reader.drain((c) => { drained += c.byteLength })
    log(`perf: drained ${drained} bytes, sending ${n}`)
    await stream.sink(zeros(Number(n)))
    await stream.close()
  }).catch((err) => {
    process.stderr.write(`js-peer: perf handler failed: ${err?.message ?? err}\n`)
    stream.abort(err)
  })
}

// -------------------------------------------------------------------- the node

async function makeNode (seed, listen, withMdns = false, withAutonat = false, security = 'noise') {
  const privateKey = seed != null
    ? await generateKeyPairFromSeed('Ed25519', createHash('sha256').update(seed, 'utf8').digest())
    : await generateKeyPair('Ed25519')
  const node = await createLibp2p({
    privateKey,
    addresses: { listen },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [security === 'tls' ? tls() : noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: 1000,
      inboundConnectionThreshold: 1000,
      maxIncomingPendingConnections: 100
    },
    services: {
      identify: identify(),
      ping: ping({ maxInboundStreams: 16, maxOutboundStreams: 16 }),
      echo: echo({ maxInboundStreams: STREAM_LIMIT, maxOutboundStreams: STREAM_LIMIT }),
      ...(withMdns ? { mdns: mdns({ interval: 1000 }) } : {}),
      ...(withAutonat ? { autonat: autoNAT() } : {})
    }
  })
  if (withAutonat) freshDialBacks(node)
  await node.handle(PERF, perfHandler, { maxInboundStreams: STREAM_LIMIT, maxOutboundStreams: STREAM_LIMIT })
  return node
}

// js-libp2p's AutoNAT v1 server dials the requester back with openConnection(), which
// returns the requester's OWN open connection (then closes it): every request "succeeds"
// (peers.md). For a fair test, an AutoNAT test peer dials every multiaddr on a fresh
// connection (`force`), which is what the dial-back needs; node_modules stay untouched.
function freshDialBacks (node) {
  const manager = node.components.connectionManager
  const open = manager.openConnection.bind(manager)
  manager.openConnection = (target, options = {}) => {
    const single = !Array.isArray(target) && typeof target?.getPeerId === 'function'
    return open(target, single ? { ...options, force: true } : options)
  }
}

async function cmdListen (args) {
  const node = await makeNode(args.seed, args.listen, args.mdns, args.autonat, args.security)
  if (args.autonat) {
    // js's AutoNAT client confirms our addresses through the servers it meets; report
    // the verified (announced) ones after each change.
    node.addEventListener('self:peer:update', () => {
      const verified = node.getMultiaddrs().map((ma) => ma.toString())
      process.stdout.write(JSON.stringify({ verified_addrs: verified }) + '\n')
    })
  }
  const discovered = new Set()
  if (args.mdns) {
    // Listen before start() so that nothing found early is missed; print after the
    // listening line (stdout order is what the harness relies on).
    const queue = []
    let listening = false
    const report = (id, addrs) => {
      if (discovered.has(id)) return
      discovered.add(id)
      process.stdout.write(JSON.stringify({ discovered: id, addrs }) + '\n')
      if (args.mdnsDial) void mdnsDial(node, id)
    }
    // The mdns service's own event: the node's peer:discovery also fires for peers that
    // merely connected to us, which would not prove that mDNS found them.
    node.services.mdns.addEventListener('peer', (evt) => {
      const id = evt.detail.id.toString()
      const addrs = evt.detail.multiaddrs.map((ma) => ma.toString())
      if (listening) report(id, addrs)
      else queue.push([id, addrs])
    })
    args.flushDiscovered = () => {
      listening = true
      for (const [id, addrs] of queue.splice(0)) report(id, addrs)
    }
  }
  await node.start()
  const peerId = node.peerId.toString()
  const addrs = node.getMultiaddrs().map((ma) => {
    const s = ma.toString()
    return s.includes('/p2p/') ? s : `${s}/p2p/${peerId}`
  })
  process.stdout.write(JSON.stringify({ peer_id: peerId, listen_addrs: addrs }) + '\n')
  if (args.flushDiscovered != null) args.flushDiscovered()
  let stopping = false
  const stop = async (why) => {
    if (stopping) return
    stopping = true
    log(`stopping (${why})`)
    const timer = setTimeout(() => process.exit(0), 3000)
    timer.unref()
    try { await node.stop() } catch {}
    process.exit(0)
  }
  process.on('SIGTERM', () => { void stop('SIGTERM') })
  process.on('SIGINT', () => { void stop('SIGINT') })
  process.stdin.on('end', () => { void stop('stdin EOF') })
  process.stdin.on('error', () => { void stop('stdin error') })
  process.stdin.resume()
}

async function mdnsDial (node, id) {
  try {
    const conn = await node.dial(peerIdFromString(id), { signal: AbortSignal.timeout(20000) })
    const rtts = await doPing(conn, 1)
    process.stdout.write(JSON.stringify({ connected: id, ping_ms: rtts[0] }) + '\n')
  } catch (err) {
    const error = `${err?.name ?? 'Error'}: ${err?.message ?? err}`.replace(/\s*\n\s*/g, ' ')
    process.stdout.write(JSON.stringify({ dial_failed: id, error }) + '\n')
  }
}

async function doPing (conn, count) {
  const stream = await conn.newStream(PING)
  const reader = new Reader(stream.source)
  const rtts = []
  await stream.sink((async function * () {
    for (let i = 0; i < count; i++) {
      const payload = randomBytes(32)
      const t0 = performance.now()
      yield payload
      const reply = await reader.readExact(32)
      rtts.push(performance.now() - t0)
      if (!equalBytes(reply, payload)) throw new PeerError('ping reply does not match')
    }
  })())
  await stream.close()
  return rtts
}

async function echoOnce (conn, size) {
  const stream = await conn.newStream(ECHO)
  const payload = randomBytes(size)
  const received = Buffer.alloc(size)
  let got = 0
  const reader = new Reader(stream.source)
  await Promise.all([
    stream.sink((function * () {
      for (let off = 0; off < size; off += CHUNK) yield payload.subarray(off, off + CHUNK)
    })()),
    reader.drain((c) => {
      if (got + c.byteLength > size) throw new PeerError(`echo: got more than the ${size} bytes sent`)
      received.set(c, got)
      got += c.byteLength
    })
  ])
  await stream.close()
  if (got !== size || !equalBytes(received, payload)) {
    throw new PeerError(`echo mismatch: sent ${size} bytes, got ${got} back`)
  }
}

async function perfOnce (conn, upload, download) {
  const stream = await conn.newStream(PERF)
  const reader = new Reader(stream.source)
  const t0 = performance.now()
  let got = 0
  await Promise.all([
    stream.sink((function * () {
      yield be64(download)
      yield * zeros(upload)
    })()),
    reader.drain((c) => { got += c.byteLength })
  ])
  const seconds = (performance.now() - t0) / 1000
  await stream.close()
  if (got !== download) throw new PeerError(`perf: expected ${download} bytes, got ${got}`)
  return seconds
}

async function cmdDial (args) {
  const target = multiaddr(args.target)
  const remoteId = target.getPeerId()
  if (remoteId == null) throw new PeerError('the multiaddr must end in /p2p/<peer id>')
  const node = await makeNode(args.seed, [], false, false, args.security)
  await node.start()
  const result = { peer_id: null }
  let identified
  if (args.identify) {
    // Calling identify by hand races the automatic one (TooManyOutboundProtocolStreams):
    // wait for the automatic `peer:identify` event instead.
    identified = new Promise((resolve) => {
      node.addEventListener('peer:identify', (evt) => {
        if (evt.detail.peerId.toString() === remoteId) resolve(evt.detail)
      })
    })
  }
  const t0 = performance.now()
  const conn = await node.dial(target)
  result.connect_ms = performance.now() - t0
  // Report the id the Noise handshake authenticated, not the one in the address:
  // js-libp2p 2.10 does not refuse a listener whose key differs from the /p2p/ id.
  result.peer_id = conn.remotePeer.toString()
  if (result.peer_id !== remoteId) {
    throw new PeerError(`connected to ${result.peer_id}, but the address names ${remoteId}`)
  }
  if (args.ping) result.ping_rtts_ms = await doPing(conn, args.ping)
  if (args.identify) {
    let timer
    const d = await Promise.race([
      identified,
      new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new PeerError('no peer:identify event within 10 s')), 10000)
      })
    ])
    clearTimeout(timer)
    result.identify = {
      protocols: d.protocols,
      agent_version: d.agentVersion ?? null,
      protocol_version: d.protocolVersion ?? null,
      listen_addrs: d.listenAddrs.map((ma) => ma.toString()),
      observed_addr: d.observedAddr != null ? d.observedAddr.toString() : null,
      // The signed peer record js verified, and the addresses its peer store now certifies.
      signed_peer_record: d.signedPeerRecord != null
        ? { seq: d.signedPeerRecord.seq.toString(), addrs: d.signedPeerRecord.addresses.map((ma) => ma.toString()) }
        : null,
      certified_addrs: (await node.peerStore.get(conn.remotePeer)).addresses
        .filter((a) => a.isCertified).map((a) => a.multiaddr.toString())
    }
  }
  if (args.echo != null) {
    const k = args.streams ?? 1
    await Promise.all(Array.from({ length: k }, () => echoOnce(conn, args.echo)))
    result.echo_ok = true
    result.echo_bytes = args.echo
    if (args.streams != null) result.streams_ok = k
  }
  if (args.perfUpload != null || args.perfDownload != null) {
    const up = args.perfUpload ?? 0
    const down = args.perfDownload ?? 0
    const upS = up > 0 ? await perfOnce(conn, up, 0) : 0
    const downS = down > 0 ? await perfOnce(conn, 0, down) : 0
    result.perf = {
      upload_bytes: up,
      download_bytes: down,
      seconds: upS + downS,
      upload_seconds: upS,
      download_seconds: downS,
      upload_mb_s: upS > 0 ? up / upS / 1e6 : 0,
      download_mb_s: downS > 0 ? down / downS / 1e6 : 0
    }
  }
  process.stdout.write(JSON.stringify(result) + '\n')
  const timer = setTimeout(() => process.exit(0), 2000)
  timer.unref()
  try { await node.stop() } catch {}
  process.exit(0)
}

function fail (err) {
  const msg = `${err?.name ?? 'Error'}: ${err?.message ?? err}`.replace(/\s*\n\s*/g, ' ')
  if (process.env.INTEROP_PEER_LOG != null) process.stderr.write(`${err?.stack ?? err}\n`)
  process.stderr.write(`error: ${msg}\n`, () => process.exit(1))
}

const args = parseArgs(process.argv.slice(2))
if (args.cmd === 'listen') {
  cmdListen(args).catch(fail)
} else {
  const timer = setTimeout(() => fail(new PeerError(`dial timed out after ${args.timeout} s`)), args.timeout * 1000)
  void timer
  cmdDial(args).catch(fail)
}
