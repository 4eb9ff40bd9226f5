/**
 * The HTTP endpoint Prometheus scrapes: GET (or HEAD) /metrics answers the registry in the
 * Prometheus text format; any other path is 404, any other method on /metrics 405.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'

export const metricsPath = '/metrics'

/**
 * The metrics port could not be bound. It carries what it was asked to bind and the error of
 * `listen` as its cause, so that a failed start names the metrics port, not the gRPC one.
 */
export class MetricsListenError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    super(`cannot listen for metrics on ${host}:${port}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    this.name = 'MetricsListenError'
  }
}

export interface MetricsEndpoint {
  readonly host: string
  /** The port bound, the chosen one when 0 was asked for. */
  readonly port: number
  /** Stops listening and closes its connections; resolves once closed. */
  close(): Promise<void>
}

export async function listenForMetrics(host: string, port: number, registry: Registry, logger: Logger): Promise<MetricsEndpoint> {
  const server = http.createServer((request, response) => {
    void answer(request, response, registry, logger)
  })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port }, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (error) {
    throw new MetricsListenError(host, port, error)
  }
  server.on('error', (error) => logger.error({ err: error }, 'the metrics endpoint failed'))
  const bound = server.address() as AddressInfo
  return {
    host,
    port: bound.port,
    close: () =>
      new Promise<void>((resolve) => {
        // A scraper keeps its connection open between scrapes: close it rather than wait for it.
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

async function answer(request: http.IncomingMessage, response: http.ServerResponse, registry: Registry, logger: Logger): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://metrics').pathname
  if (path !== metricsPath) return plain(response, 404, `not found: metrics are at ${metricsPath}\n`)
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD')
    return plain(response, 405, `${metricsPath} answers GET\n`)
  }
  let text: string
  try {
    text = await registry.metrics()
  } catch (error) {
    logger.error({ err: error }, 'could not collect the metrics')
    return plain(response, 500, 'could not collect the metrics; the server log says why\n')
  }
  response.writeHead(200, { 'content-type': registry.contentType })
  response.end(request.method === 'HEAD' ? undefined : text)
}

function plain(response: http.ServerResponse, statusCode: number, text: string): void {
  response.writeHead(statusCode, { 'content-type': 'text/plain; charset=utf-8' })
  response.end(text)
}
