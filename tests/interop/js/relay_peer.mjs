#!/usr/bin/env node
// js-libp2p circuit relay v2 peer for the p2pstack relay interop tests (Node 20, libp2p 2.x).
//
//   node relay_peer.mjs relay --listen MA [--listen MA ...] [--seed LABEL] [--limit-data BYTES]
//                             [--limit-duration S]
//       a relay server; prints {"peer_id", "listen_addrs"} and runs until SIGTERM/SIGINT/EOF.
//   node relay_peer.mjs listen-via RELAY_MA [--seed LABEL]
//       reserves on the relay, prints {"peer_id", "listen_addrs": [circuit addrs]} and serves
//       ping, identify and echo (also over limited connections) until SIGTERM/SIGINT/EOF.
//   node relay_peer.mjs dial MA [--ping N] [--echo BYTES] [--seed LABEL] [--timeout S]
//       dials MA (a /p2p-circuit address), pings, echoes, prints one JSON line and exits 0;
//       on failure prints "error: ..." on stderr and exits 1.

import { createHash, randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { echo } from '@libp2p/echo'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const PING = '/ipfs/ping/1.0.0'
const ECHO = '/echo/1.0.0'

function usage (msg) {
  process.stderr.write(`error: ${msg}\n`)
  process.exit(2)
}

function parseArgs (argv) {
  const cmd = argv[0]
  if (!['relay', 'listen-via', 'dial'].includes(cmd)) usage('first argument must be relay, listen-via or dial')
  const args = { cmd, listen: [], timeout: 120 }
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`)
      return argv[++i]
    }
    if (a === '--seed') args.seed = next()
    else if (a === '--listen') args.listen.push(next())
    else if (a === '--limit-data') args.limitData = BigInt(next())
    else if (a === '--limit-duration') args.limitDuration = Number(next())
    else if (a === '--ping') args.ping = Number(next())
    else if (a === '--echo') args.echo = Number(next())
    else if (a === '--timeout') args.timeout = Number(next())
    else if (!a.startsWith('--') && args.target == null) args.target = a
    else usage(`unexpected argument ${a}`)
  }
  if (cmd === 'relay' && args.listen.length === 0) usage('relay needs --listen MA')
  if (cmd !== 'relay' && args.target == null) usage(`${cmd} needs a multiaddr`)
  return args
}

async function privateKey (seed) {
  return seed != null
    ? await generateKeyPairFromSeed('Ed25519', createHash('sha256').update(seed, 'utf8').digest())
    : await generateKeyPair('Ed25519')
}

async function makeNode (args, { listen = [], server = false }) {
  const services = {
    identify: identify(),
    ping: ping()
  }
  if (server) {
    const reservations = {}
    if (args.limitData != null) reservations.defaultDataLimit = args.limitData
    if (args.limitDuration != null) reservations.defaultDurationLimit = args.limitDuration * 1000
    services.relay = circuitRelayServer({ reservations })
  } else {
    services.echo = echo({ runOnLimitedConnection: true })
  }
  return await createLibp2p({
    privateKey: await privateKey(args.seed),
    addresses: { listen },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 1000, inboundConnectionThreshold: 1000 },
    services
  })
}

function runUntilStopped (node) {
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    const timer = setTimeout(() => process.exit(0), 3000)
    timer.unref()
    try { await node.stop() } catch {}
    process.exit(0)
  }
  process.on('SIGTERM', () => { void stop() })
  process.on('SIGINT', () => { void stop() })
  process.stdin.on('end', () => { void stop() })
  process.stdin.on('error', () => { void stop() })
  process.stdin.resume()
}

function addrsWithId (node, filter) {
  const id = node.peerId.toString()
  return node.getMultiaddrs().map((ma) => ma.toString()).filter(filter)
    .map((s) => s.endsWith(`/p2p/${id}`) ? s : `${s}/p2p/${id}`)
}

async function cmdRelay (args) {
  const node = await makeNode(args, { listen: args.listen, server: true })
  await node.start()
  const addrs = addrsWithId(node, (s) => !s.includes('/p2p-circuit'))
  process.stdout.write(JSON.stringify({ peer_id: node.peerId.toString(), listen_addrs: addrs }) + '\n')
  runUntilStopped(node)
}

async function cmdListenVia (args) {
  const node = await makeNode(args, { listen: [`${args.target}/p2p-circuit`] })
  await node.start()
  const deadline = Date.now() + args.timeout * 1000
  let addrs = []
  while (addrs.length === 0) {
    addrs = addrsWithId(node, (s) => s.includes('/p2p-circuit'))
    if (addrs.length > 0) break
    if (Date.now() > deadline) throw new Error('no relayed address after the timeout')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  process.stdout.write(JSON.stringify({ peer_id: node.peerId.toString(), listen_addrs: addrs }) + '\n')
  runUntilStopped(node)
}

async function readExact (iter, state, n) {
  while (state.buf.length < n) {
    const { value, done } = await iter.next()
    if (done) throw new Error(`unexpected EOF after ${state.buf.length} of ${n} bytes`)
    state.buf = Buffer.concat([state.buf, Buffer.from(value.subarray())])
  }
  const out = state.buf.subarray(0, n)
  state.buf = state.buf.subarray(n)
  return out
}

async function doPing (conn, count) {
  const stream = await conn.newStream(PING, { runOnLimitedConnection: true })
  const iter = stream.source[Symbol.asyncIterator]()
  const state = { buf: Buffer.alloc(0) }
  const rtts = []
  await stream.sink((async function * () {
    for (let i = 0; i < count; i++) {
      const payload = randomBytes(32)
      const t0 = performance.now()
      yield payload
      const reply = await readExact(iter, state, 32)
      rtts.push(performance.now() - t0)
      if (!reply.equals(payload)) throw new Error('ping reply does not match')
    }
  })())
  await stream.close()
  return rtts
}

async function doEcho (conn, size) {
  const stream = await conn.newStream(ECHO, { runOnLimitedConnection: true })
  const payload = randomBytes(size)
  const chunks = []
  let got = 0
  await Promise.all([
    stream.sink((function * () {
      for (let off = 0; off < size; off += 16384) yield payload.subarray(off, off + 16384)
    })()),
    (async () => {
      for await (const c of stream.source) {
        chunks.push(Buffer.from(c.subarray()))
        got += c.byteLength
      }
    })()
  ])
  if (got !== size || !Buffer.concat(chunks).equals(payload)) throw new Error(`echo mismatch: ${got} of ${size} bytes`)
}

async function cmdDial (args) {
  const target = multiaddr(args.target)
  const node = await makeNode(args, {})
  await node.start()
  const t0 = performance.now()
  const conn = await node.dial(target)
  const result = {
    peer_id: conn.remotePeer.toString(),
    connect_ms: performance.now() - t0,
    limited: conn.limits != null,
    remote_addr: conn.remoteAddr.toString()
  }
  if (args.ping) result.ping_rtts_ms = await doPing(conn, args.ping)
  if (args.echo != null) {
    await doEcho(conn, args.echo)
    result.echo_ok = true
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
const commands = { relay: cmdRelay, 'listen-via': cmdListenVia, dial: cmdDial }
if (args.cmd === 'dial') {
  const timer = setTimeout(() => fail(new Error(`timed out after ${args.timeout} s`)), args.timeout * 1000)
  void timer
}
commands[args.cmd](args).catch(fail)
