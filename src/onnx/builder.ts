/**
 * A small builder for new ONNX graphs on top of proto.ts: named constants (float and string),
 * nodes with generated output names, graph inputs/outputs, and the final ModelProto bytes.
 */
import { DataType, encodeModel, makeNode, makeTensor, makeValueInfo, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.ts';

/** Default opset of graphs LineSight writes (onnxruntime 1.30 supports it fully). */
export const DEFAULT_OPSET = 17;

/** Build a graph node by node, then encode it. */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  /** A fresh internal value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix.replace(/[^A-Za-z0-9_]/g, '_')}_${this.counter++}`;
  }

  /** A float32 constant (initializer); returns its name. */
  floats(prefix: string, dims: readonly number[], values: ArrayLike<number>): string {
    const name = this.fresh(prefix);
    this.initializers.push(makeTensor(name, dims, Float32Array.from(values)));
    return name;
  }

  /** An int64 constant (shapes, axes); returns its name. */
  int64s(prefix: string, values: readonly number[]): string {
    const name = this.fresh(prefix);
    this.initializers.push(makeTensor(name, [values.length], BigInt64Array.from(values.map(BigInt))));
    return name;
  }

  /** A 1-D string constant; returns its name. */
  strings(prefix: string, values: readonly string[]): string {
    const name = this.fresh(prefix);
    const enc = new TextEncoder();
    this.initializers.push({ name, dims: [values.length], dataType: DataType.STRING, stringData: values.map((v) => enc.encode(v)) });
    return name;
  }

  /** Add a node; returns the name of its (first) output, generated unless given. */
  op(opType: string, inputs: readonly string[], attrs: Parameters<typeof makeNode>[3] = {}, output?: string): string {
    const out = output ?? this.fresh(opType.toLowerCase());
    this.nodes.push(makeNode(opType, inputs, [out], attrs, this.fresh(`n_${opType}`)));
    return out;
  }

  input(name: string, elemType: number, shape: ReadonlyArray<number | string>): string {
    this.inputs.push(makeValueInfo(name, elemType, shape));
    return name;
  }

  output(name: string, elemType: number, shape: ReadonlyArray<number | string>): void {
    this.outputs.push(makeValueInfo(name, elemType, shape));
  }

  /** Encode as an ONNX file (IR version 8, default-domain opset). */
  encode(opset = DEFAULT_OPSET, docString = ''): Uint8Array {
    return encodeModel({
      irVersion: 8,
      producerName: 'linesight',
      producerVersion: '0.1.0',
      docString,
      opsetImport: [{ domain: '', version: opset }],
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
  }
}
