"""How many MiniLM layers does the message encoder need? Linear probes on frozen message vectors.

    python benchmarks/layer_probe.py [--train-messages 15000]

One pass of the base all-MiniLM-L6-v2 over messages of the corpus gives, for each depth L, the
mean-pooled vectors a model truncated to its bottom L layers would give. A class-balanced logistic
regression per tactic, fitted on training-split messages, is scored on test-split messages (scenario
families unseen in training). This measures what the frozen vectors hold, not the fine-tuned model;
it is the evidence behind keeping only the bottom layers (see the model card).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEPTHS = (2, 3, 4, 6)


def messages(split: str) -> tuple[list[str], np.ndarray]:
    from lureguard.taxonomy import TACTIC_IDS

    texts, labels = [], []
    for line in (ROOT / "datasets" / "lureguard" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
        for m in json.loads(line)["messages"]:
            texts.append(m["text"])
            labels.append([t in m["tactics"] for t in TACTIC_IDS])
    return texts, np.array(labels)


def vectors_by_depth(texts: list[str]) -> dict[int, np.ndarray]:
    """Mean-pooled hidden states after each depth in DEPTHS, for every text."""
    import torch

    sys.path.insert(0, str(ROOT / "training"))
    from lureguard.batching import equal_length_groups
    from lureguard_train.model import load_base_encoder
    from lureguard_train.train import tokenizer_for
    from lureguard_train.config import TrainConfig

    torch.set_num_threads(2)
    bert = load_base_encoder().eval()
    tokens = tokenizer_for(TrainConfig()).tokenize(texts)
    out = {d: np.zeros((len(texts), bert.config.hidden_size), np.float32) for d in DEPTHS}
    with torch.no_grad():
        for rows in equal_length_groups([len(t) for t in tokens], 128):
            ids = torch.tensor([tokens[i] for i in rows])
            hidden = bert(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True).hidden_states
            for d in DEPTHS:
                out[d][rows] = hidden[d].mean(1).numpy()
    return out


def main() -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-messages", type=int, default=15000, help="a random sample of training messages")
    args = parser.parse_args()
    train_texts, train_y = messages("train")
    keep = np.random.default_rng(0).choice(len(train_texts), min(args.train_messages, len(train_texts)), replace=False)
    train_texts, train_y = [train_texts[i] for i in keep], train_y[keep]
    test_texts, test_y = messages("test")
    train_v, test_v = vectors_by_depth(train_texts), vectors_by_depth(test_texts)
    report = {}
    for d in DEPTHS:
        aps = []
        for j in range(train_y.shape[1]):
            probe = LogisticRegression(max_iter=500, class_weight="balanced").fit(train_v[d], train_y[:, j])
            aps.append(average_precision_score(test_y[:, j], probe.predict_proba(test_v[d])[:, 1]))
        report[f"layers_{d}"] = {"macro_tactic_pr_auc": round(float(np.mean(aps)), 3)}
        print(f"bottom {d} layers: macro tactic PR-AUC {np.mean(aps):.3f}", file=sys.stderr)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
