"""Labelled sources -> a train/validation/test ``datasets.DatasetDict``, split by contract.

    python -m data.build [--config configs/default.yaml] [--out data/processed]

Sources (see ../shared/data/*/README.md): the hand-labelled CUAD liability and
indemnity clauses, CUAD clauses of other categories (label ``none``, sampled so
``none`` does not drown the buckets), the synthetic clauses (training split only)
and, for retraining, reviewers' corrections.

Library use (``training.retrain``)::

    ds, info = build_dataset(DataConfig(), corrections=[{"id", "contract", "text", "label", "source"}, ...],
                             fixed_split=load_fixed_split(old_version / "split.json"))

Corrections override records with the same id (or add new ones); ``fixed_split``
(contract -> split) keeps the contracts of an earlier build in the same split so
evaluations stay comparable; contracts it does not name go to ``train``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.config import ROOT, get_settings
from app.taxonomy import LABEL_IDS, validate

SPLITS = ("train", "validation", "test")
SYNTHETIC = "synthetic"
RECORD_FIELDS = ("id", "contract", "text", "heading", "label", "source", "kind", "weight")
SEGMENT = "cuad_segment"  # a segment of a whole contract, as the product's segmenter cut it
# Segments nobody read: `auto_none` has no liability wording at all (150 of 150 read were `none`);
# `auto_none_broad` mentions damages or claims weakly (2.3% were liability clauses).
UNREAD = "auto_none"
RARE = ("carve_out", "cap_and_collar", "uncapped")


class DataError(ValueError):
    """A labelled source or a correction is missing or malformed; the message names it."""


def _shared(*parts: str) -> Path:
    return Path(get_settings().shared_dir).joinpath(*parts)


class DataConfig(BaseModel):
    """What goes into the dataset and how it is split."""

    model_config = ConfigDict(extra="forbid")

    labeled_path: Path = Field(default_factory=lambda: _shared("data", "cuad", "clauses_labeled.jsonl"),
                               description="Hand-labelled real CUAD liability and indemnity clauses.")
    other_path: Path = Field(default_factory=lambda: _shared("data", "cuad", "clauses_other_categories.jsonl"),
                             description="Real CUAD clauses of other categories, all labelled `none`.")
    synthetic_path: Path | None = Field(
        default_factory=lambda: _shared("data", "synthetic", "clauses_synthetic.jsonl"),
        description="Hand-written clauses for rare buckets and near misses (train only); null to leave them out.")
    segments_path: Path | None = Field(
        default=None,
        description="Every segment of the development contracts with its label (../shared/data/cuad/"
                    "segments_dev.jsonl); a relative path is read under the shared folder. Empty: clauses only.")
    auto_none_pool: int = Field(
        default=4000, ge=0,
        description="Unread `auto_none` training segments kept (seeded sample); training draws "
                    "`auto_none_per_epoch` of them afresh each epoch. They are easy negatives: a few thousand "
                    "show the model what ordinary contract text looks like, all 24,000 would only cost time.")
    auto_none_per_epoch: int = Field(default=1500, ge=0,
                                     description="Unread `auto_none` segments drawn from the pool each epoch.")
    eval_auto_none_fraction: float = Field(
        default=0.25, gt=0, le=1,
        description="Share of unread `auto_none` segments kept in validation and test; each kept one weighs "
                    "1/fraction in every metric, so figures describe contracts in their real proportions.")
    none_ratio: float = Field(default=1.0, ge=0,
                              description="Other-category `none` clauses sampled per labelled liability clause; "
                                          "raise it to make `none` more common, as it is in real contracts.")
    val_fraction: float = Field(default=0.15, gt=0, lt=0.5, description="Share of contracts held out for validation.")
    test_fraction: float = Field(default=0.15, gt=0, lt=0.5, description="Share of contracts held out for test.")
    drop_low_confidence: bool = Field(default=False,
                                      description="Leave out clauses whose annotator marked `confidence: low`.")
    seed: int = Field(default=13, description="Seed of the `none` sampling and of the contract split.")

    def to_card(self) -> dict:
        """The config as a model card records it: sources under the shared folder by their path inside it,
        so a card names the data, not the machine that trained (read back with DataConfig(**card))."""
        d = self.model_dump(mode="json")
        shared = Path(get_settings().shared_dir).resolve()
        for k, v in d.items():
            if k.endswith("_path") and v is not None and Path(v).is_absolute():
                try:
                    d[k] = str(Path(v).resolve().relative_to(shared))
                except ValueError:
                    pass  # a file outside the shared folder stays where it is
        return d

    @model_validator(mode="after")
    def _fractions_leave_training_data(self):
        if self.val_fraction + self.test_fraction >= 0.6:
            raise ValueError("val_fraction + test_fraction must be below 0.6 so training keeps most contracts")
        return self


@dataclass
class DatasetInfo:
    data_hash: str
    counts: dict  # split -> source -> label -> n
    split_by_contract: dict[str, str]
    dropped_duplicates: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"data_hash": self.data_hash, "counts": self.counts, "dropped_duplicates": self.dropped_duplicates,
                "n_contracts": dict(Counter(self.split_by_contract.values())), "notes": self.notes}


def _read_jsonl(path: Path) -> list[dict]:
    if not Path(path).exists():
        raise DataError(f"labelled source {path} not found; set LEXDORA_SHARED_DIR or the path in the config")
    records = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{n} is not valid JSON ({e.msg})") from e
    return records


def _record(raw: dict, *, source: str | None = None, kind: str | None = None, where: str = "") -> dict:
    """Normalise one raw record to RECORD_FIELDS, checking what a lawyer could get wrong."""
    missing = [k for k in ("id", "text", "label") if not raw.get(k)]
    if missing:
        raise DataError(f"record {raw.get('id', '?')}{where} lacks {', '.join(missing)}")
    try:
        label = validate(raw["label"])
    except ValueError as e:
        raise DataError(f"record {raw['id']}{where}: {e}") from e
    src = raw.get("source") or source or "cuad"
    return {
        "id": str(raw["id"]),
        # Synthetic clauses have no contract; one shared group keeps them together (and in train).
        "contract": str(raw.get("contract") or (SYNTHETIC if src == SYNTHETIC else raw["id"])),
        "text": " ".join(str(raw["text"]).split()),
        "heading": " ".join(str(raw.get("heading") or "").split()),
        "label": label,
        "source": src,
        "kind": raw.get("kind") or kind or src,
        "weight": float(raw.get("weight") or 1.0),
    }


def shared_path(path: Path) -> Path:
    """A configured source path; a relative one lives under the shared folder (so configs and
    model cards name data, not the machine that trained)."""
    path = Path(path)
    return path if path.is_absolute() else Path(get_settings().shared_dir) / path


def load_segments(config: DataConfig) -> list[dict]:
    """Every labelled segment of the development contracts (empty when no segment file is configured)."""
    if config.segments_path is None:
        return []
    path = shared_path(config.segments_path)
    return [_record(dict(r, kind=r.get("label_source")), source=SEGMENT, where=f" in {path.name}")
            for r in _read_jsonl(path)
            if not (config.drop_low_confidence and r.get("confidence") == "low")]


def load_records(config: DataConfig) -> list[dict]:
    """Every record of the configured clause sources, `none` clauses already sampled (segments apart)."""
    rng = random.Random(config.seed)
    labeled = [r for r in _read_jsonl(shared_path(config.labeled_path))
               if not (config.drop_low_confidence and r.get("confidence") == "low")]
    records = [_record(r, where=f" in {config.labeled_path.name}") for r in labeled]
    others = [_record(r, source="cuad", where=f" in {config.other_path.name}")
              for r in _read_jsonl(shared_path(config.other_path))]
    n_none = min(len(others), round(config.none_ratio * sum(r["label"] != "none" for r in records)))
    others.sort(key=lambda r: r["id"])  # sampling must not depend on file order
    records += rng.sample(others, n_none)
    if config.synthetic_path is not None:
        records += [_record(r, source=SYNTHETIC, where=f" in {config.synthetic_path.name}")
                    for r in _read_jsonl(shared_path(config.synthetic_path))]
    return records


def sample_unread_segments(records: list[dict], config: DataConfig) -> list[dict]:
    """Keep every read segment; of the unread `auto_none` ones keep a seeded pool in train and a weighted
    share in validation and test (weight 1/share, so metrics see contracts in their real proportions)."""
    rng = random.Random(config.seed)
    unread = sorted((r for r in records if r["source"] == SEGMENT and r["kind"] == UNREAD), key=lambda r: r["id"])
    kept = [r for r in records if not (r["source"] == SEGMENT and r["kind"] == UNREAD)]
    train = [r for r in unread if r["split"] == "train"]
    kept += rng.sample(train, min(len(train), config.auto_none_pool))
    for r in unread:
        if r["split"] != "train" and rng.random() < config.eval_auto_none_fraction:
            kept.append(dict(r, weight=1.0 / config.eval_auto_none_fraction))
    return kept


def unread_training_segments(config: DataConfig, split_by_contract: dict[str, str]) -> list[dict]:
    """Every unread `auto_none` segment of the training contracts, not only the pool the model trains on:
    a linear model learns from all of them in seconds."""
    return [r for r in load_segments(config)
            if r["kind"] == UNREAD and split_by_contract.get(r["contract"], "train") == "train"]


def apply_corrections(records: list[dict], corrections: list[dict]) -> list[dict]:
    """Records with each correction replacing the record of the same id (or added when new)."""
    by_id = {r["id"]: r for r in records}
    for raw in corrections:
        fixed = _record(raw, source="review", kind="correction", where=" (correction)")
        if not raw.get("contract") and fixed["id"] in by_id:
            fixed["contract"] = by_id[fixed["id"]]["contract"]
        by_id[fixed["id"]] = fixed
    return list(by_id.values())


def contract_strata(records: list[dict]) -> dict[str, str]:
    """Contract -> what a split should balance: CUAD's two answers where known (so validation and test
    contracts carry them) and the rarest bucket the contract holds (precedence order)."""
    answers = cuad_answers()
    labels: dict[str, set] = {}
    for r in records:
        labels.setdefault(r["contract"], set()).add(r["label"])
    strata = {}
    for contract, present in labels.items():
        rarest = next((lab for lab in LABEL_IDS if lab in present), "none")
        a = answers.get(contract) or {}
        # The buckets that decide "uncapped" are so rare that they stratify alone; CUAD's answers
        # stratify the rest.
        strata[contract] = (rarest if rarest in RARE else f"{a.get('cuad_cap')}/{a.get('cuad_uncapped')}/{rarest}")
    return strata


def cuad_answers(*, missing_ok: bool = True) -> dict[str, dict]:
    """CUAD's contract-level answers ({"cuad_cap": "Yes"/"No", "cuad_uncapped": ...}) by contract name.
    Without contracts.json: {} (the split then stratifies by bucket alone), or FileNotFoundError when
    the caller cannot do without it (evaluation)."""
    path = Path(get_settings().shared_dir) / "data" / "cuad" / "contracts.json"
    if missing_ok and not path.exists():
        return {}
    return json.loads(path.read_text())


def split_contracts(records: list[dict], config: DataConfig) -> dict[str, str]:
    """Contract -> split: stratified by contract (answers, rarest bucket), deterministic for the seed."""
    from sklearn.model_selection import StratifiedKFold

    strata = contract_strata([r for r in records if r["source"] != SYNTHETIC])
    contracts = sorted(strata)
    split = {c: "train" for c in contracts}

    def hold_out(pool: list[str], fraction: float, name: str) -> list[str]:
        # One fold of k ~ 1/fraction is held out. A stratum with fewer contracts than k cannot be spread
        # over every fold: those contracts are pooled into one "rare" stratum rather than dropped.
        k = max(2, round(1 / fraction))
        counts = Counter(strata[c] for c in pool)
        y = [strata[c] if counts[strata[c]] >= k else "rare" for c in pool]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            _, held = next(StratifiedKFold(n_splits=k, shuffle=True, random_state=config.seed).split(pool, y))
        for i in held:
            split[pool[i]] = name
        return [c for i, c in enumerate(pool) if i not in set(held)]

    rest = hold_out(contracts, config.test_fraction, "test")
    hold_out(rest, config.val_fraction / (1 - config.test_fraction), "validation")
    split[SYNTHETIC] = "train"
    return split


def data_hash(rows: list[dict]) -> str:
    """SHA-256 over the canonicalised records (sorted by id, sorted keys, one JSON line each)."""
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: r["id"]):
        # heading and weight default as _record sets them, so records built by hand hash alike
        h.update(json.dumps({k: r.get(k, {"heading": "", "weight": 1.0}.get(k)) for k in (*RECORD_FIELDS, "split")},
                            sort_keys=True, ensure_ascii=False,
                            separators=(",", ":")).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def build_dataset(config: DataConfig | None = None, corrections: list[dict] | None = None,
                  fixed_split: dict[str, str] | None = None):
    """(DatasetDict with train/validation/test, DatasetInfo with hash, counts and the contract split)."""
    from datasets import Dataset, DatasetDict

    config = config or DataConfig()
    records = load_records(config) + load_segments(config)
    if corrections:
        records = apply_corrections(records, corrections)
    ids = Counter(r["id"] for r in records)
    if dupes := [i for i, n in ids.items() if n > 1]:
        raise DataError(f"record ids appear more than once: {', '.join(sorted(dupes)[:5])}")

    if fixed_split is not None:
        bad = {s for s in fixed_split.values() if s not in SPLITS}
        if bad:
            raise DataError(f"fixed split names unknown splits {sorted(bad)}; expected {', '.join(SPLITS)}")
        split = {r["contract"]: fixed_split.get(r["contract"], "train") for r in records}
    else:
        split = split_contracts(records, config)
    notes = []
    for r in records:
        # Synthetic clauses never enter validation or test, whatever a fixed split says.
        r["split"] = "train" if r["source"] == SYNTHETIC else split[r["contract"]]

    records = sample_unread_segments(records, config)

    # The same boilerplate sentence can occur in several contracts; a copy in validation or test
    # of a training clause would flatter the clause scores, so such copies are dropped from evaluation.
    # Segments stay: they are whole contracts as the product reads them, boilerplate included.
    train_texts = {r["text"].lower() for r in records if r["split"] == "train"}
    kept = [r for r in records
            if r["split"] == "train" or r["source"] == SEGMENT or r["text"].lower() not in train_texts]
    dropped = len(records) - len(kept)
    if dropped:
        notes.append(f"{dropped} validation/test clauses dropped: same text as a training clause")

    counts: dict = {s: {} for s in SPLITS}
    for r in kept:
        counts[r["split"]].setdefault(r["source"], Counter())[r["label"]] += 1
    counts = {s: {src: {lab: c[lab] for lab in LABEL_IDS if c[lab]} for src, c in by_src.items()}
              for s, by_src in counts.items()}
    kept.sort(key=lambda r: r["id"])
    ds = DatasetDict({s: Dataset.from_dict({k: [r[k] for r in kept if r["split"] == s] for k in RECORD_FIELDS})
                      for s in SPLITS})
    # Every contract of the sources, not only those with a kept record: a contract whose segments were all
    # sampled away must stay in its split when a fixed split rebuilds the dataset, or the sampling shifts.
    by_contract = {c: s for c, s in split.items() if c != SYNTHETIC}
    return ds, DatasetInfo(data_hash(kept), counts, by_contract, dropped, notes)


def source_hashes(config: DataConfig) -> dict[str, str]:
    """SHA-256 of every source file the config reads, by its path in the shared folder: what a model card
    cites so anyone can check they hold the same data."""
    out = {}
    recorded = config.to_card()
    for key in ("segments_path", "labeled_path", "other_path", "synthetic_path"):
        if getattr(config, key) is not None:
            path = shared_path(getattr(config, key))
            if path.exists():
                out[recorded[key]] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def load_fixed_split(path: Path) -> dict[str, str]:
    """The contract -> split map saved beside a built dataset or a model version (split.json)."""
    return json.loads(Path(path).read_text())


def dataset_card(info: DatasetInfo, config: DataConfig) -> str:
    """Markdown card: counts per split, source and label, and the data hash."""
    lines = ["# lexdora clause dataset", "", f"Data hash (SHA-256 over canonical records): `{info.data_hash}`", "",
             f"Seed {config.seed}, `none` ratio {config.none_ratio}, split by contract "
             f"(validation {config.val_fraction:.0%}, test {config.test_fraction:.0%} of real contracts); "
             "synthetic clauses in train only.", "",
             "| split | source | contracts | " + " | ".join(LABEL_IDS) + " | total |",
             "|---|---|---|" + "---|" * (len(LABEL_IDS) + 1)]
    n_contracts = Counter(info.split_by_contract.values())
    for s in SPLITS:
        for src, c in sorted(info.counts[s].items()):
            lines.append(f"| {s} | {src} | {n_contracts[s] if src != SYNTHETIC else '-'} | "
                         + " | ".join(str(c.get(lab, 0)) for lab in LABEL_IDS) + f" | {sum(c.values())} |")
    lines += [""] + [f"- {n}" for n in info.notes]
    return "\n".join(lines) + "\n"


def save(ds, info: DatasetInfo, config: DataConfig, out: Path) -> Path:
    """Write the DatasetDict, split.json, stats.json and README.md under `out`."""
    out = Path(out)
    ds.save_to_disk(str(out))
    (out / "split.json").write_text(json.dumps(info.split_by_contract, indent=1, sort_keys=True) + "\n")
    (out / "stats.json").write_text(json.dumps(info.to_dict(), indent=2, sort_keys=True) + "\n")
    (out / "README.md").write_text(dataset_card(info, config))
    return out


def config_from_yaml(path: Path | None) -> DataConfig:
    """DataConfig from the `data:` section of a training config (defaults without one)."""
    if path is None:
        return DataConfig()
    raw = yaml.safe_load(Path(path).read_text()) or {}
    return DataConfig(**(raw.get("data") or {}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.build", description=__doc__.split("\n\n")[0],
                                     epilog="example: python -m data.build --config configs/default.yaml")
    parser.add_argument("--config", type=Path, help="training config whose `data:` section to use")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "processed", help="output folder")
    args = parser.parse_args(argv)
    try:
        config = config_from_yaml(args.config)
        ds, info = build_dataset(config)
    except (DataError, ValidationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    save(ds, info, config, args.out)
    print(dataset_card(info, config))
    print(f"saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
