import * as grpc from '@grpc/grpc-js'
import { startTestServer } from './test/support/test-server.ts'
import { rawClient } from './test/support/hostile-sender.ts'
const s = await startTestServer({ limits: { callsMax: 4 } })
const raw = rawClient(`127.0.0.1:${s.server.port}`)
for (let i = 0; i < 4; i++) {
const call = raw.makeServerStreamRequest('/grpc.health.v1.Health/Watch', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), new grpc.Metadata(), {})
call.on('data', (d: Buffer) => console.log(i, 'data', d))
call.on('status', (st: any) => console.log(i, 'status', st.code, st.details))
call.on('error', (e: any) => console.log(i, 'error', e.code))
}
await new Promise((r) => setTimeout(r, 1000))
console.log('open', s.server.openCalls())
console.log(await s.client.getStats().then(() => 'ok', (e) => e.message))
await new Promise((r) => setTimeout(r, 500))
raw.close(); await s.stop()
