"""The slice measured before choosing the MPNet schedule (results/transformer/mpnet-base/README.md): four bf16
training steps of 16 reviews at 256 head+tail tokens, then three inference batches of 32, on real IMDB reviews; the
first of each is warm-up and not counted.

    python bench/mpnet_slice.py      # after `imdb-sentiment download mpnet-base`; about 3 minutes on 2 cores
"""

import time

import torch
from transformers import AutoModelForSequenceClassification

from imdb_sentiment.core.data import load_imdb, stratified_sample
from imdb_sentiment.models.transformer import encode, load_tokenizer, make_collator, resolve_model_name

torch.set_num_threads(2)
source = resolve_model_name("mpnet-base")
tokenizer = load_tokenizer(source)
reviews = stratified_sample(load_imdb()["train"], 96, 0)
ids = encode(tokenizer, reviews.texts, 256, "head_tail", 64)["input_ids"]
collate = make_collator(tokenizer, "dynamic", 256)
model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=2)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5)


def batch(start: int, size: int) -> dict:
    return collate([{"input_ids": ids[j], "labels": int(reviews.labels[j])} for j in range(start, start + size)])


model.train()
times = []
for k in range(4):
    inputs = batch(16 * k, 16)
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(**inputs).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    times.append(time.perf_counter() - start)
    print("train step", k, round(times[-1], 2), tuple(inputs["input_ids"].shape), flush=True)
print("train reviews/s", 16 * 3 / sum(times[1:]))
model.eval()
times = []
with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
    for k in range(3):
        inputs = batch(32 * k, 32)
        inputs.pop("labels")
        start = time.perf_counter()
        model(**inputs)
        times.append(time.perf_counter() - start)
print("infer reviews/s", 32 * 2 / sum(times[1:]))
