/**
 * Loads the contract, proto/lse.proto, once for the server and the client alike.
 *
 * Both sides use @grpc/proto-loader with the same options, so that a message is the same plain
 * object on either side: fields in camelCase, 64-bit integers as decimal strings (`longs:
 * String`: a JavaScript number would round ids and int64 values past 2^53), enums as their names,
 * absent fields filled with their defaults, and the name of the set member of each oneof in a
 * virtual field (`kind` for a Value).
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import protoLoader from '@grpc/proto-loader'
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader'
import protobuf from 'protobufjs'

const repoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The folder of the contract, and the contract's name in it (the name reflection reports). */
export const protoDir = path.join(repoDir, 'proto')
export const lseProtoFileName = 'lse.proto'
/** Absolute path of the contract. */
export const lseProtoPath = path.join(protoDir, lseProtoFileName)

export const lsePackageName = 'lse.v1'
export const lseServiceName = `${lsePackageName}.LseService`
/**
 * The health-checking name that says whether writes are accepted: NOT_SERVING while the disk is
 * full (reads are still served, and '' and `lseServiceName` stay SERVING) or the store failed.
 */
export const writesHealthName = `${lseServiceName}.Writes`

export const protoLoaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
}

/** The unary RPCs of LseService, in the order of the proto. */
export const lseMethodNames = [
  'CreateProblem',
  'GetProblemHtml',
  'GetProblemMeta',
  'UpdateProblemHtml',
  'UpdateProblemColumn',
  'DeleteProblem',
  'ListProblems',
  'AddTestCase',
  'GetTestCase',
  'GetAllTestCases',
  'UpdateTestCase',
  'DeleteTestCase',
  'SetExpectedOutput',
  'GetExpectedOutput',
  'UpdateExpectedOutput',
  'DeleteExpectedOutput',
  'GetStats',
  'Flush',
  'CompactNow',
  'Commit',
] as const

export type LseMethodName = (typeof lseMethodNames)[number]

/** The RPCs of LseService that stream their responses. */
export const lseStreamingMethodNames = ['Watch'] as const

export type LseStreamingMethodName = (typeof lseStreamingMethodNames)[number]

/** Every RPC of LseService. */
export type LseRpcName = LseMethodName | LseStreamingMethodName

/** A method of LseService as proto-loader describes it: path, (de)serializers, message types. */
export type LseMethodDefinition = MethodDefinition<object, object>

let cachedDefinition: PackageDefinition | undefined

/** The package definition of proto/lse.proto (loaded once per process). */
export function loadLseDefinition(): PackageDefinition {
  cachedDefinition ??= protoLoader.loadSync(lseProtoFileName, { ...protoLoaderOptions, includeDirs: [protoDir] })
  return cachedDefinition
}

/** The definition of every LseService method, by name. */
export function lseMethods(): Record<LseRpcName, LseMethodDefinition> {
  const service = loadLseDefinition()[lseServiceName] as unknown as Record<string, LseMethodDefinition>
  const methods = {} as Record<LseRpcName, LseMethodDefinition>
  for (const name of [...lseMethodNames, ...lseStreamingMethodNames]) {
    const method = service[name]
    if (method === undefined) throw new Error(`${lseProtoPath} has no RPC ${name}`)
    methods[name] = method
  }
  return methods
}

let cachedRoot: protobuf.Root | undefined

/** The contract as protobufjs reflection objects, for walking raw message bytes. */
export function loadLseRoot(): protobuf.Root {
  if (cachedRoot === undefined) {
    const root = protobuf.loadSync(lseProtoPath)
    root.resolveAll()
    cachedRoot = root
  }
  return cachedRoot
}
