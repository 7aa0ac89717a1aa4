#!/usr/bin/env node
// js-libp2p 2.10 peer with @libp2p/dcutr 2.0.38 for the p2pstack DCUtR interop tests, run in
// the two-NAT namespace bed (Node 20).
//
//   node dcutr_peer.mjs --relay RELAY_MA --listen MA --dial-port N --announce PUBLIC_MA
//                       [--dial TARGET_MA] [--seed LABEL]
//
// Reserves on the relay and serves identify, ping and DCUtR. Prints JSON lines: {"peer_id",
// "addrs"} once reserved, then {"event": "open"|"close", "remote", "limited", "direction"}
// for every connection. With --dial it then dials TARGET_MA (a circuit address) and prints
// {"dialled", "limited"}. On stdin "ping PEER" pings over the connection js would use and
// prints {"ping", "remote", "limited"}. Runs until SIGTERM or EOF on stdin.
//
// Workarounds for js-libp2p 2.10 (see /work/shared/docs/peers.md), applied here and never in
// node_modules:
// - js ignores TCP observed addresses and does not advertise unverified public ones: the
//   public address goes in `appendAnnounce` (DCUtR's CONNECT carries it; plain `announce`
//   would hide the relayed addresses).
// - Node 20 cannot bind a dialling socket to the listening port: every outbound socket
//   leaves from one fixed port (`dialOpts.localPort`), and that port is the announced one,
//   so a port-preserving NAT maps it to the announced public port.
// The role is NOT patched: stock js 2.10 upgrades every punch dial as the Noise initiator
// (its dial queue drops DCUtR's `initiator: false`); p2pstack copes (see its DCUtR service).

import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { dcutr } from '@libp2p/dcutr'
import { identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

function usage (msg) {
  process.stderr.write(`error: ${msg}\n`)
  process.exit(2)
}

function parseArgs (argv) {
  const args = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (i + 1 >= argv.length) usage(`${a} needs a value`)
    const v = argv[++i]
    if (a === '--relay') args.relay = v
    else if (a === '--listen') args.listen = v
    else if (a === '--dial-port') args.dialPort = Number(v)
    else if (a === '--announce') args.announce = v
    else if (a === '--dial') args.dial = v
    else if (a === '--seed') args.seed = v
    else usage(`unexpected argument ${a}`)
  }
  for (const k of ['relay', 'listen', 'dialPort', 'announce']) if (args[k] == null) usage(`--${k} is required`)
  return args
}

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

async function main () {
  const args = parseArgs(process.argv.slice(2))
  const privateKey = args.seed != null
    ? await generateKeyPairFromSeed('Ed25519', createHash('sha256').update(args.seed, 'utf8').digest())
    : await generateKeyPair('Ed25519')
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: [args.listen, `${args.relay}/p2p-circuit`], appendAnnounce: [args.announce] },
    transports: [tcp({ dialOpts: { localPort: args.dialPort } }), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping({ runOnLimitedConnection: true }), dcutr: dcutr() }
  })
  node.addEventListener('connection:open', (e) => {
    const c = e.detail
    out({ event: 'open', remote: c.remoteAddr.toString(), limited: c.limits != null, direction: c.direction })
  })
  node.addEventListener('connection:close', (e) => {
    const c = e.detail
    out({ event: 'close', remote: c.remoteAddr.toString(), limited: c.limits != null })
  })
  await node.start()
  const deadline = Date.now() + 20000
  while (!node.getMultiaddrs().some((ma) => ma.toString().includes('/p2p-circuit'))) {
    if (Date.now() > deadline) throw new Error('no reservation on the relay after 20 s')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  out({ peer_id: node.peerId.toString(), addrs: node.getMultiaddrs().map((ma) => ma.toString()) })
  if (args.dial != null) {
    const conn = await node.dial(multiaddr(args.dial))
    out({ dialled: conn.remoteAddr.toString(), limited: conn.limits != null })
  }
  const lines = createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    const [verb, peer] = line.trim().split(/\s+/)
    if (verb !== 'ping') return
    void (async () => {
      try {
        const peerId = peerIdFromString(peer)
        const t0 = performance.now()
        await node.services.ping.ping(peerId, { runOnLimitedConnection: true })
        const conns = node.getConnections(peerId).map((c) => ({ remote: c.remoteAddr.toString(), limited: c.limits != null }))
        out({ ping: performance.now() - t0, connections: conns })
      } catch (err) {
        out({ ping_error: `${err?.name}: ${err?.message}` })
      }
    })()
  })
  const stop = async () => {
    const timer = setTimeout(() => process.exit(0), 3000)
    timer.unref()
    try { await node.stop() } catch {}
    process.exit(0)
  }
  process.on('SIGTERM', () => { void stop() })
  lines.on('close', () => { void stop() })
}

main().catch((err) => {
  process.stderr.write(`error: ${err?.name}: ${err?.message}\n${err?.stack}\n`, () => process.exit(1))
})
