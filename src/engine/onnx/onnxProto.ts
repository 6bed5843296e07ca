/**
 * Plain-object shapes of the ONNX protobuf messages this project emits, and their encoder.
 * Field numbers follow onnx/onnx.proto (IR version 9, opset 20 era). Only the fields we write are modelled.
 */
import { ProtoWriter } from './protoWriter';

/** onnx.TensorProto.DataType values. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

export interface TensorProto {
  name?: string;
  dims: readonly number[];
  dataType: number;
  /** Little-endian raw bytes of the elements (row-major); empty when `external` is set. */
  rawData: Uint8Array;
  /** Data stored in a side file (data_location = EXTERNAL), path relative to the model file. */
  external?: { location: string; offset: number; length: number };
}

/** A tensor dimension: a fixed size or a symbolic name (dim_param). */
export type DimProto = number | string;

export interface ValueInfoProto {
  name: string;
  elemType: number;
  /** Omit for an unknown rank. */
  shape?: readonly DimProto[];
}

export type AttributeProto =
  | { name: string; type: 'float'; f: number }
  | { name: string; type: 'int'; i: number }
  | { name: string; type: 'string'; s: string }
  | { name: string; type: 'tensor'; t: TensorProto }
  | { name: string; type: 'graph'; g: GraphProto }
  | { name: string; type: 'floats'; floats: readonly number[] }
  | { name: string; type: 'ints'; ints: readonly number[] };

export interface NodeProto {
  name?: string;
  opType: string;
  domain?: string;
  /** Input value names; '' marks an omitted optional input. */
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: readonly AttributeProto[];
}

export interface GraphProto {
  name: string;
  nodes: readonly NodeProto[];
  initializers: readonly TensorProto[];
  inputs: readonly ValueInfoProto[];
  outputs: readonly ValueInfoProto[];
  valueInfo?: readonly ValueInfoProto[];
}

export interface ModelProto {
  irVersion: number;
  opsetImports: readonly { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: GraphProto;
}

// AttributeProto.AttributeType
const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7 } as const;

function writeTensor(w: ProtoWriter, t: TensorProto): void {
  w.packedInts(1, t.dims); // dims
  w.int(2, t.dataType); // data_type
  if (t.name !== undefined) w.string(8, t.name); // name
  if (t.external) {
    const ext = t.external;
    // external_data = 13 (StringStringEntryProto: key = 1, value = 2), data_location = 14 (EXTERNAL = 1)
    const entry = (key: string, value: string): void =>
      w.message(13, (e) => {
        e.string(1, key);
        e.string(2, value);
      });
    entry('location', ext.location);
    entry('offset', String(ext.offset));
    entry('length', String(ext.length));
    w.int(14, 1);
  } else w.bytes(9, t.rawData); // raw_data
}

function writeValueInfo(w: ProtoWriter, v: ValueInfoProto): void {
  w.string(1, v.name);
  w.message(2, (tp) => {
    // TypeProto.tensor_type = 1
    tp.message(1, (tt) => {
      tt.int(1, v.elemType); // elem_type
      if (v.shape !== undefined) {
        const shape = v.shape;
        // shape = 2 (TensorShapeProto); always written when known, even for scalars (empty dim list).
        tt.message(2, (sp) => {
          for (const d of shape) {
            sp.message(1, (dp) => {
              if (typeof d === 'number') dp.int(1, d); // dim_value
              else dp.string(2, d); // dim_param
            });
          }
        });
      }
    });
  });
}

function writeAttribute(w: ProtoWriter, a: AttributeProto): void {
  w.string(1, a.name);
  w.int(20, ATTR_TYPE[a.type]);
  switch (a.type) {
    case 'float':
      w.float(2, a.f);
      break;
    case 'int':
      w.int(3, a.i);
      break;
    case 'string':
      w.string(4, a.s);
      break;
    case 'tensor':
      w.message(5, (tw) => writeTensor(tw, a.t));
      break;
    case 'graph':
      w.message(6, (gw) => writeGraph(gw, a.g));
      break;
    case 'floats':
      w.packedFloats(7, a.floats);
      break;
    case 'ints':
      w.packedInts(8, a.ints);
      break;
  }
}

function writeNode(w: ProtoWriter, n: NodeProto): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name !== undefined) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes) w.message(5, (aw) => writeAttribute(aw, a));
  if (n.domain !== undefined && n.domain !== '') w.string(7, n.domain);
}

function writeGraph(w: ProtoWriter, g: GraphProto): void {
  for (const n of g.nodes) w.message(1, (nw) => writeNode(nw, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (tw) => writeTensor(tw, t));
  for (const v of g.inputs) w.message(11, (vw) => writeValueInfo(vw, v));
  for (const v of g.outputs) w.message(12, (vw) => writeValueInfo(vw, v));
  for (const v of g.valueInfo ?? []) w.message(13, (vw) => writeValueInfo(vw, v));
}

/** Serializes a ModelProto to the bytes `InferenceSession.create(bytes)` accepts. */
export function encodeModel(m: ModelProto): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, m.irVersion); // ir_version
  w.string(2, m.producerName); // producer_name
  w.string(3, m.producerVersion); // producer_version
  w.message(7, (gw) => writeGraph(gw, m.graph)); // graph
  for (const o of m.opsetImports) {
    w.message(8, (ow) => {
      if (o.domain !== '') ow.string(1, o.domain);
      ow.int(2, o.version);
    });
  }
  return w.finish();
}
