/**
 * The services added from packages (health checking, reflection) with deserializers that never
 * throw.
 *
 * grpc-js answers INTERNAL ("Error deserializing request") when a deserializer throws, which
 * blames the server for a client's bad bytes: a health Check whose body is `ff ff ff` got INTERNAL.
 * And protobufjs reads leniently: a health Check whose string claims more bytes than the message
 * has was answered for the truncated name. Here a request is checked against its type as the
 * contract's are (wire-check.ts), decoded in its canonical form (canonical-request.ts), and one
 * that is not a valid message becomes a `MalformedRequest`, which the interceptor answers
 * INVALID_ARGUMENT before it reaches the package's handler, for unary and streaming methods alike.
 * The contract's own methods have strict deserializers of their own (strict-requests.ts), which
 * their handlers answer; this interceptor leaves their calls alone.
 */
import * as grpc from '@grpc/grpc-js'
import { protoPath as healthProtoPath } from 'grpc-health-check'
import { createRequire } from 'node:module'
import path from 'node:path'
import protobuf from 'protobufjs'
import { canonicalRequest } from './canonical-request.ts'
import { MalformedRequest } from './strict-requests.ts'
import { findWireProblem } from './wire-check.ts'

/** The .proto files of the packages' services, for their request types. */
function packageProtoFiles(): string[] {
  const reflectionProtoDir = path.resolve(path.dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..', 'proto')
  return [
    healthProtoPath,
    path.join(reflectionProtoDir, 'grpc/reflection/v1/reflection.proto'),
    path.join(reflectionProtoDir, 'grpc/reflection/v1alpha/reflection.proto'),
  ]
}

type ServiceAdder = Pick<grpc.Server, 'addService'>

export class CheckedServices {
  /** The paths (`/package.Service/Method`) whose deserializers are checked here. */
  private readonly paths = new Set<string>()
  private readonly root = protobuf.loadSync(packageProtoFiles()).resolveAll()

  /** A stand-in for the server, for a package's `addToServer`: its services get checked deserializers. */
  adder(server: ServiceAdder): ServiceAdder {
    return {
      addService: (service, implementation) => {
        const checked = Object.fromEntries(
          Object.entries(service).map(([name, method]) => {
            this.paths.add(method.path)
            return [name, { ...method, requestDeserialize: this.checkedDeserializer(method.path, method.requestDeserialize) }]
          }),
        )
        server.addService(checked, implementation)
      },
    }
  }

  /** Answers a request of a checked service that did not decode INVALID_ARGUMENT; it never reaches the handler. */
  interceptor(): grpc.ServerInterceptor {
    return (methodDescriptor, call) => {
      if (!this.paths.has(methodDescriptor.path)) return new grpc.ServerInterceptingCall(call)
      let refused = false
      const listener = new grpc.ServerListenerBuilder()
        .withOnReceiveMessage((message, next) => {
          if (refused) return
          if (message instanceof MalformedRequest) {
            refused = true
            call.sendStatus({ code: message.code, details: message.details, metadata: new grpc.Metadata() })
            return
          }
          next(message)
        })
        // A refused call is over: its handler must not start on the half-close without a request.
        .withOnReceiveHalfClose((next) => {
          if (!refused) next()
        })
        .build()
      const responder = new grpc.ResponderBuilder().withStart((next) => next(listener)).build()
      return new grpc.ServerInterceptingCall(call, responder)
    }
  }

  private checkedDeserializer(methodPath: string, deserialize: grpc.deserialize<unknown>): grpc.deserialize<unknown> {
    const [serviceName, methodName] = methodPath.replace(/^\//, '').split('/') as [string, string]
    const type = this.root.lookupService(serviceName).methods[methodName]?.resolvedRequestType
    if (type === null || type === undefined) throw new Error(`no request type for ${methodPath} in the packages' .proto files`)
    return (bytes: Buffer): unknown => {
      const problem = findWireProblem(type, bytes)
      if (problem !== undefined) {
        return new MalformedRequest(grpc.status.INVALID_ARGUMENT, `${methodPath.slice(1)}: malformed ${type.name}: ${problem}`)
      }
      try {
        return deserialize(canonicalRequest(type, bytes))
      } catch (error) {
        return new MalformedRequest(grpc.status.INVALID_ARGUMENT, `${methodPath.slice(1)}: malformed ${type.name}: ${(error as Error).message}`)
      }
    }
  }
}
