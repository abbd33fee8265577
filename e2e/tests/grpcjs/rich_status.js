'use strict';
// google.rpc.Status and the error details the contract uses, encoded and
// decoded with protobufjs (grpc-js carries `grpc-status-details-bin` as
// opaque bytes). Shared by the server and the client beside it.

const protobuf = require('protobufjs');

const string = (id) => ({ type: 'string', id });
const root = protobuf.Root.fromJSON({
  nested: {
    rpc: {
      nested: {
        Any: { fields: { typeUrl: string(1), value: { type: 'bytes', id: 2 } } },
        Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
        Status: {
          fields: {
            code: { type: 'int32', id: 1 },
            message: string(2),
            details: { rule: 'repeated', type: 'Any', id: 3 },
          },
        },
        FieldViolation: { fields: { field: string(1), description: string(2) } },
        BadRequest: { fields: { fieldViolations: { rule: 'repeated', type: 'FieldViolation', id: 1 } } },
        ResourceInfo: {
          fields: { resourceType: string(1), resourceName: string(2), owner: string(3), description: string(4) },
        },
        RetryInfo: { fields: { retryDelay: { type: 'Duration', id: 1 } } },
      },
    },
  },
});
const type = (name) => root.lookupType(`rpc.${name}`);
const URL = 'type.googleapis.com/google.rpc.';

function pack(name, fields) {
  const t = type(name);
  return { typeUrl: URL + name, value: t.encode(t.create(fields)).finish() };
}

/** The bytes of grpc-status-details-bin: a Status with the call's code and
 * message and each detail ({badRequest: [[field, description]]},
 * {resourceInfo: {type, name, description}} or {retryInfo: {seconds, nanos}}). */
function encodeStatus(code, message, details) {
  const packed = details.map((d) => {
    if (d.badRequest) {
      return pack('BadRequest', {
        fieldViolations: d.badRequest.map(([field, description]) => ({ field, description })),
      });
    }
    if (d.resourceInfo) {
      const { type: resourceType, name: resourceName, description } = d.resourceInfo;
      return pack('ResourceInfo', { resourceType, resourceName, description });
    }
    if (d.retryInfo) return pack('RetryInfo', { retryDelay: d.retryInfo });
    throw new Error(`unknown detail ${JSON.stringify(d)}`);
  });
  const status = type('Status');
  return Buffer.from(status.encode(status.create({ code, message, details: packed })).finish());
}

/** A Status decoded from grpc-status-details-bin, its details as
 * {type: 'BadRequest', ...fields} (unknown types as {type, bytes}). */
function decodeStatus(bytes) {
  const status = type('Status').decode(bytes);
  const details = status.details.map((any) => {
    const name = any.typeUrl.slice(URL.length);
    if (!any.typeUrl.startsWith(URL) || !['BadRequest', 'ResourceInfo', 'RetryInfo'].includes(name)) {
      return { type: any.typeUrl, bytes: any.value.length };
    }
    return { type: name, ...type(name).toObject(type(name).decode(any.value), { longs: Number }) };
  });
  return { code: status.code, message: status.message, details };
}

module.exports = { encodeStatus, decodeStatus };
