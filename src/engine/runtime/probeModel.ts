/**
 * A tiny hand-encoded ONNX model used to probe whether an execution provider really works on this
 * machine (listing a provider is not enough: CUDA is listed even when its shared library is absent).
 *
 * The model is `y = x + x` with x, y float32 [4], opset 18. It is written with a minimal protobuf
 * encoder so that the runtime does not depend on the graph builder (src/engine/graph) to start up.
 */

/** Protobuf wire types used here: 0 = varint, 2 = length-delimited. */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function fieldVarint(field: number, value: number): number[] {
  return [...varint((field << 3) | 0), ...varint(value)];
}

function fieldBytes(field: number, bytes: number[]): number[] {
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}

function fieldString(field: number, s: string): number[] {
  return fieldBytes(field, Array.from(Buffer.from(s, 'utf8')));
}

/** ValueInfoProto for a float32 tensor of static shape. */
function valueInfo(name: string, shape: number[]): number[] {
  const dims = shape.flatMap((d) => fieldBytes(1, fieldVarint(1, d))); // Dimension.dim_value = 1
  const tensorType = [...fieldVarint(1, 1 /* FLOAT */), ...fieldBytes(2, dims)]; // TypeProto.Tensor
  const typeProto = fieldBytes(1, tensorType); // TypeProto.tensor_type = 1
  return [...fieldString(1, name), ...fieldBytes(2, typeProto)];
}

/** Encodes the probe model `y = x + x` (float32 [4]) as ONNX ModelProto bytes. */
export function probeModelBytes(): Uint8Array {
  // NodeProto: input = 1, output = 2, name = 3, op_type = 4
  const node = [...fieldString(1, 'x'), ...fieldString(1, 'x'), ...fieldString(2, 'y'), ...fieldString(3, 'add'), ...fieldString(4, 'Add')];
  // GraphProto: node = 1, name = 2, input = 11, output = 12
  const graph = [
    ...fieldBytes(1, node),
    ...fieldString(2, 'probe'),
    ...fieldBytes(11, valueInfo('x', [4])),
    ...fieldBytes(12, valueInfo('y', [4])),
  ];
  // OperatorSetIdProto: domain = 1, version = 2
  const opset = [...fieldString(1, ''), ...fieldVarint(2, 18)];
  // ModelProto: ir_version = 1, producer_name = 2, graph = 7, opset_import = 8
  const model = [...fieldVarint(1, 8), ...fieldString(2, 'alignment-studio-probe'), ...fieldBytes(7, graph), ...fieldBytes(8, opset)];
  return Uint8Array.from(model);
}
