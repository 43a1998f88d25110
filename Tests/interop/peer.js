'use strict'
// A real JavaScript Hypercore / Hyperbee peer driven by the Swift interop tests (Tests/InteropTests).
//
// Run: NODE_PATH=<js-holepunch>/node_modules node peer.js
// Reads one JSON command per line on stdin, answers one JSON line per command on stdout:
//   {"id": n, "ok": true, ...result} or {"id": n, "ok": false, "error": "..."}.
// Connections are TCP on 127.0.0.1 wrapped in @hyperswarm/secret-stream, one core replicated per connection.
// Diagnostics go to stderr. The process exits on the "exit" command, on stdin end, or after IDLE_EXIT_MS.

const net = require('net')
const readline = require('readline')
const Hypercore = require('hypercore')
const Hyperbee = require('hyperbee')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const RAM = require('random-access-memory')
const c = require('compact-encoding')
const messages = require('hypercore/lib/messages.js')

const IDLE_EXIT_MS = 10 * 60 * 1000 // a forgotten peer never outlives the test run for long

let core = null
let bee = null
const streams = []
const events = { closed: 0, opened: 0, errors: [] }

function log (...args) { process.stderr.write('[js-peer] ' + args.join(' ') + '\n') }

const hex = (b) => Buffer.from(b).toString('hex')
const unhex = (s) => Buffer.from(s, 'hex')

function track (stream) {
  streams.push(stream)
  events.opened++
  stream.on('error', (err) => { events.errors.push(String(err.message || err)); log('stream error', err.message) })
  stream.on('close', () => { events.closed++; log('stream closed') })
}

function replicate (socket, isInitiator) {
  const stream = new NoiseSecretStream(isInitiator, socket)
  track(stream)
  core.replicate(stream)
  return stream
}

// Hypercore 11 codecs for the messages that gained optional trailing fields (written from hypercore v11
// lib/messages.js, holepunchto/hypercore 11.35.1 f63dd844: noData `reason` since 11.13, want/unwant `any` since 11.23).
// Patching the shared encoding objects makes this Hypercore 10 peer put Hypercore 11 bytes on the wire.
function useHypercore11Codecs ({ reason, any, syncExtra }) {
  messages.wire.noData.preencode = (state, m) => {
    c.uint.preencode(state, m.request)
    c.uint.preencode(state, reason ? 1 : 0)
    if (reason) c.uint.preencode(state, reason)
  }
  messages.wire.noData.encode = (state, m) => {
    c.uint.encode(state, m.request)
    c.uint.encode(state, reason ? 1 : 0)
    if (reason) c.uint.encode(state, reason)
  }
  for (const name of ['want', 'unwant']) {
    const flags = any ? 1 : 0
    messages.wire[name].preencode = (state, m) => {
      c.uint.preencode(state, m.start)
      c.uint.preencode(state, m.length)
      if (flags !== 0) c.uint.preencode(state, flags)
    }
    messages.wire[name].encode = (state, m) => {
      c.uint.encode(state, m.start)
      c.uint.encode(state, m.length)
      if (flags !== 0) c.uint.encode(state, flags)
    }
  }
  if (syncExtra) {
    // A field no released version has: proves an unknown trailing uint is skipped, not only the known ones.
    const { preencode, encode } = messages.wire.sync
    messages.wire.sync.preencode = (state, m) => { preencode(state, m); c.uint.preencode(state, syncExtra) }
    messages.wire.sync.encode = (state, m) => { encode(state, m); c.uint.encode(state, syncExtra) }
  }
}

// A lying writer: corrupts what it sends in data messages (the block value, or the upgrade signature).
function tamperWith (mode) {
  core.on('peer-add', (peer) => {
    const send = peer.wireData.send
    peer.wireData.send = function (m, session) {
      if (mode === 'block' && m.block) {
        const value = Buffer.from(m.block.value)
        value[0] ^= 0xff
        m = { ...m, block: { ...m.block, value } }
      } else if (mode === 'signature' && m.upgrade) {
        const signature = Buffer.from(m.upgrade.signature)
        signature[signature.length - 1] ^= 0xff
        m = { ...m, upgrade: { ...m.upgrade, signature } }
      } else if (mode === 'node' && m.block && m.block.nodes.length > 0) {
        const nodes = m.block.nodes.map((n, i) => i === 0 ? { ...n, hash: Buffer.from(n.hash).fill(7) } : n)
        m = { ...m, block: { ...m.block, nodes } }
      }
      return send.call(this, m, session)
    }
  })
}

async function waitFor (pred, ms) {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out after ' + ms + ' ms')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const text = (b) => b === null ? null : Buffer.from(b).toString('utf8')

const ops = {
  async hc11 (cmd) {
    useHypercore11Codecs(cmd)
    return {}
  },
  async create ({ compat, blocks = 0, prefix = 'js-block-', seed }) {
    const opts = { compat: !!compat }
    if (seed) opts.keyPair = require('hypercore-crypto').keyPair(Buffer.alloc(32, seed))
    core = new Hypercore(RAM, opts)
    await core.ready()
    const batch = []
    for (let i = 0; i < blocks; i++) batch.push(Buffer.from(prefix + i))
    if (batch.length) await core.append(batch)
    return { key: hex(core.key), length: core.length, compat: core.core.compat, manifest: !!core.manifest }
  },
  async open ({ key }) {
    core = new Hypercore(RAM, unhex(key))
    await core.ready()
    return {}
  },
  async tamper ({ mode }) {
    tamperWith(mode)
    return {}
  },
  async listen () {
    const server = net.createServer((socket) => replicate(socket, false))
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    return { port: server.address().port }
  },
  async connect ({ port }) {
    const socket = net.connect(port, '127.0.0.1')
    const stream = replicate(socket, true)
    await new Promise((resolve, reject) => {
      stream.once('connect', resolve)
      stream.once('error', reject)
      stream.once('close', () => reject(new Error('closed before the handshake')))
    })
    return {}
  },
  async update ({ timeout = 20000 } = {}) {
    await Promise.race([
      core.update({ wait: true }),
      new Promise((resolve, reject) => setTimeout(() => reject(new Error('update timed out')), timeout))
    ])
    return { length: core.length, manifest: !!core.manifest, compat: core.core.compat }
  },
  async get ({ index, timeout = 20000 }) {
    const value = await core.get(index, { timeout })
    return { value: text(value) }
  },
  async has ({ indices }) {
    const result = []
    for (const i of indices) result.push(await core.has(i))
    return { has: result }
  },
  async download ({ start = 0, end = -1 }) {
    await core.download({ start, end: end === -1 ? core.length : end }).done()
    const values = []
    for (let i = start; i < (end === -1 ? core.length : end); i++) values.push(text(await core.get(i)))
    return { values, contiguousLength: core.contiguousLength }
  },
  async audit () {
    // Re-hashes every stored block against the verified tree.
    return await core.core.audit()
  },
  async append ({ values }) {
    await core.append(values.map((v) => Buffer.from(v)))
    return { length: core.length }
  },
  async waitLength ({ length, timeout = 20000 }) {
    await waitFor(() => core.length >= length, timeout)
    return { length: core.length }
  },
  async beeOpen () {
    bee = new Hyperbee(core, { keyEncoding: 'utf-8', valueEncoding: 'utf-8' })
    await bee.ready()
    return { version: bee.version }
  },
  async beePut ({ entries }) {
    const b = bee.batch()
    for (const [k, v] of entries) await b.put(k, v)
    await b.flush()
    return { length: core.length }
  },
  async beeDel ({ key }) {
    await bee.del(key)
    return { length: core.length }
  },
  async beeGet ({ keys }) {
    const values = []
    for (const k of keys) {
      const node = await bee.get(k)
      values.push(node ? node.value : null)
    }
    return { values }
  },
  async beeRange ({ gte, lt, reverse = false, limit = -1 }) {
    const opts = { reverse, limit }
    if (gte !== undefined) opts.gte = gte
    if (lt !== undefined) opts.lt = lt
    const out = []
    for await (const node of bee.createReadStream(opts)) out.push([node.key, node.value])
    return { entries: out }
  },
  async state () {
    return {
      length: core.length,
      contiguousLength: core.contiguousLength,
      peers: core.peers.length,
      opened: events.opened,
      closed: events.closed,
      errors: events.errors
    }
  },
  async waitClosed ({ timeout = 20000 }) {
    await waitFor(() => events.closed > 0, timeout)
    return { closed: events.closed, errors: events.errors }
  },
  async exit () {
    setImmediate(() => process.exit(0))
    return {}
  }
}

const idle = setTimeout(() => { log('idle too long, exiting'); process.exit(3) }, IDLE_EXIT_MS)
idle.unref()

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  if (!line.trim()) return
  let cmd
  try {
    cmd = JSON.parse(line)
  } catch (err) {
    process.stdout.write(JSON.stringify({ id: -1, ok: false, error: 'bad command: ' + err.message }) + '\n')
    return
  }
  const op = ops[cmd.op]
  try {
    if (!op) throw new Error('unknown op ' + cmd.op)
    const result = await op(cmd)
    process.stdout.write(JSON.stringify({ id: cmd.id, ok: true, ...result }) + '\n')
  } catch (err) {
    log(cmd.op, 'failed:', err.stack || err)
    process.stdout.write(JSON.stringify({ id: cmd.id, ok: false, error: String(err.message || err) }) + '\n')
  }
})
rl.on('close', () => process.exit(0))
process.on('unhandledRejection', (err) => log('unhandled rejection', err && err.stack))
