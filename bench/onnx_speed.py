"""PyTorch against ONNX Runtime and OpenVINO for a Transformer run on a CPU: fp32, dynamic int8 and static int8,
bf16 autocast in PyTorch, on the same batches of the same test reviews.

    pip install -e '.[int8,runtimes]'
    python bench/onnx_speed.py --run runs/minilm-l6-bf16 [--reviews 1000] [--json results/inference/onnx.json]
    python bench/onnx_speed.py --quick        # a tiny DistilBERT: the code path in seconds, not the numbers

The model is exported once with torch.onnx (dynamic batch and length) and quantized by onnxruntime: dynamically
(int8 weights, per-channel off, as PyTorch's dynamic quantization), as exported and after onnxruntime's BERT graph
fusions ("fused": attention, layer norm and GELU as single kernels, what optimum's optimization levels apply); and
statically (QDQ, weights per channel, activation scales calibrated on the 256 training reviews that `--quantize
int8` uses). On the PyTorch side: dynamic int8 (torch.ao's quantize_dynamic on the Linear layers, what `--quantize
int8` was until 2026-11-24). On OpenVINO: the fp32 model converted as it is (fp32 inference), so that its speed
over PyTorch's shows what the runtime alone gives, and `--quantize int8` itself (static, NNCF; quantize.py).
Every variant scores the same
length-sorted batches of `--batch_size` (the run's own encoding: its max length and truncation), with the same
number of threads, after one warm-up batch; throughput is reviews per second over all of them. Accuracy and
agreement with PyTorch fp32 are on those reviews.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from inference_speed import tiny_transformer_run  # bench/, the script's own folder


def export(model, batch: dict, path: Path) -> None:
    """The model's logits as an ONNX graph with dynamic batch and length axes."""
    model.eval()
    names = ["input_ids", "attention_mask"]
    torch.onnx.export(model, (batch["input_ids"], batch["attention_mask"]), str(path), input_names=names,
                      output_names=["logits"], dynamo=False, opset_version=17,
                      dynamic_axes={n: {0: "batch", 1: "length"} for n in names} | {"logits": {0: "batch"}})


def timed(score, batches: list[dict]) -> tuple[np.ndarray, float]:
    """P(positive) of every batch in order, and reviews per second, after one warm-up batch."""
    score(batches[0])
    start = time.perf_counter()
    logits = np.concatenate([score(b) for b in batches])
    seconds = time.perf_counter() - start
    return torch.softmax(torch.from_numpy(logits).float(), -1)[:, 1].numpy(), len(logits) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="a Transformer run directory")
    parser.add_argument("--reviews", type=int, default=1000, help="stratified test reviews scored and timed")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from onnxruntime.transformers import optimizer

    from imdb_sentiment.data import splits_for, stratified_sample
    from imdb_sentiment.predict import TransformerPredictor
    from imdb_sentiment import runs
    from imdb_sentiment.runs import hardware, today

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="onnx-"))
    if args.quick:
        args.run, args.reviews = tiny_transformer_run(work, steps=5), 64
    predictor = TransformerPredictor(args.run, args.batch_size)
    reviews = stratified_sample(splits_for(predictor.cfg)["test"], args.reviews, 0)
    ids, _ = predictor._encode(reviews.texts)
    order = np.argsort([len(x) for x in ids], kind="stable")
    batches = [predictor.collate([{"input_ids": ids[i]} for i in order[s:s + args.batch_size]])
               for s in range(0, len(order), args.batch_size)]
    labels = reviews.labels[order].astype(bool)

    fp32_path, int8_path = work / "model.onnx", work / "model.int8.onnx"
    fused_path, fused_int8_path = work / "model.fused.onnx", work / "model.fused.int8.onnx"
    export(predictor.model, batches[0], fp32_path)
    quantize_dynamic(str(fp32_path), str(int8_path), weight_type=QuantType.QInt8)
    # onnxruntime's BERT graph fusions (attention, layer norm, GELU in single kernels), then int8 as above
    optimizer.optimize_model(str(fp32_path), model_type="bert", num_heads=0, hidden_size=0).save_model_to_file(
        str(fused_path))
    # fused operators are outside ONNX's shape inference, so the quantizer is told their tensors are float
    quantize_dynamic(str(fused_path), str(fused_int8_path), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    # static int8 (QDQ, weights per channel), activation scales from the training reviews `--quantize int8` uses
    static_path = work / "model.static.onnx"
    cwd = os.getcwd()
    os.chdir(work)  # the pre-processing leaves temporary files in the working directory
    try:
        quant_pre_process(str(fp32_path), str(work / "model.pre.onnx"), skip_symbolic_shape=True)
    finally:
        os.chdir(cwd)
    calibration = iter([{k: b[k].numpy() for k in ("input_ids", "attention_mask")}
                        for b in predictor._calibration_batches()])
    reader = type("Calibration", (CalibrationDataReader,), {"get_next": lambda self: next(calibration, None)})()
    quantize_static(str(work / "model.pre.onnx"), str(static_path), reader, quant_format=QuantFormat.QDQ,
                    per_channel=True, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1

    def onnx_scorer(path):
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda b: session.run(None, {"input_ids": b["input_ids"].numpy(),
                                            "attention_mask": b["attention_mask"].numpy()})[0]

    def torch_scorer(model, bf16: bool = False):
        def score(b):
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                return model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.float().numpy()
        return score

    from torch.ao.quantization import quantize_dynamic as torch_quantize_dynamic

    def shipped_int8():
        int8 = TransformerPredictor(args.run, args.batch_size)
        int8.quantize("int8")

        def score(b):
            with torch.inference_mode():
                return int8.int8(b["input_ids"], b["attention_mask"]).numpy()
        return score

    def openvino_fp32():
        import openvino as ov

        example = {k: batches[0][k] for k in ("input_ids", "attention_mask")}
        with torch.no_grad():
            converted = ov.convert_model(predictor.model.eval(), example_input=example)
        compiled = ov.Core().compile_model(converted, "CPU", {  # the settings quantize.py gives int8, in fp32
            "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": args.threads})
        return lambda b: compiled({"input_ids": b["input_ids"].numpy(),
                                   "attention_mask": b["attention_mask"].numpy()})[0]

    variants = {"pytorch fp32": lambda: torch_scorer(predictor.model),
                "pytorch int8 dynamic": lambda: torch_scorer(torch_quantize_dynamic(predictor.model, {torch.nn.Linear},
                                                                                    dtype=torch.qint8)),
                "onnxruntime fp32": lambda: onnx_scorer(fp32_path),
                "onnxruntime int8 dynamic": lambda: onnx_scorer(int8_path),
                "onnxruntime fused fp32": lambda: onnx_scorer(fused_path),
                "onnxruntime fused int8 dynamic": lambda: onnx_scorer(fused_int8_path),
                "onnxruntime int8 static": lambda: onnx_scorer(static_path),
                "openvino fp32": openvino_fp32,
                "openvino int8 static (--quantize int8)": shipped_int8}
    if runs.cpu_has_bf16():
        variants["pytorch bf16 autocast"] = lambda: torch_scorer(predictor.model, bf16=True)
    rows, base = [], None
    for name, make in variants.items():
        probs, speed = timed(make(), batches)
        correct = (probs >= 0.5) == labels
        base = base if base is not None else {"probs": probs, "speed": speed, "correct": correct}
        rows.append({"variant": name, "reviews_per_second": speed, "speedup_vs_pytorch_fp32": speed / base["speed"],
                     "accuracy": float(correct.mean()),
                     "label_agreement_with_fp32": float(((probs >= 0.5) == (base["probs"] >= 0.5)).mean()),
                     "mean_abs_p_change": float(np.abs(probs - base["probs"]).mean())})
        print(f"{name:<38}{speed:>9.1f} reviews/s {rows[-1]['speedup_vs_pytorch_fp32']:>6.2f}x  accuracy "
              f"{rows[-1]['accuracy']:.2%}  labels as fp32 {rows[-1]['label_agreement_with_fp32']:.1%}", flush=True)
    sizes = {p.name: p.stat().st_size for p in (fp32_path, int8_path, fused_path, fused_int8_path, static_path)}
    document = {"run": args.run, "reviews": len(labels), "batch_size": args.batch_size, "threads": args.threads,
                "onnx_bytes": sizes, "rows": rows, "hardware": hardware(), "onnxruntime": ort.__version__,
                "date": today()}
    print(f"{hardware()}; onnxruntime {ort.__version__}; {len(labels)} test reviews in batches of {args.batch_size}")
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    speed = {r["variant"]: r["reviews_per_second"] for r in rows}
    best_onnx = max(v for k, v in speed.items() if k.startswith("onnxruntime") and "int8" in k)
    print(f"onnx_int8_over_shipped_int8={best_onnx / speed['openvino int8 static (--quantize int8)']:.2f}")


if __name__ == "__main__":
    main()
