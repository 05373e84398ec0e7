"""`hf:path=DIR`: tiny random BERT and ESM checkpoints saved to a temporary folder, loaded offline, embedded, probed
and fine-tuned end to end. Nothing is downloaded: the vocabularies are written here."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from typer.testing import CliRunner

from tcrbench.data.tokenizer import Tokenizer
from tcrbench.errors import UsageError
from tcrbench.models import hf_adapter
from tcrbench.plugins.protocols import Kind
from tcrbench.testing import temporary_plugins, tiny_dataset

AA = "ACDEFGHIKLMNPQRSTVWY"
ESM_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>", *"LAGVSERTIDPKQNFYMHWCXBUZO", ".", "-", "<null_1>", "<mask>"]
PEPTIDES = ["GILGFVFTL", "NLVPMVATV", "GILGFVFTL"]
BETA = ["CASSIRSSYEQYF", "CASSPGQGAYEQYF", "CSARDRTGNGYTF"]
ALPHA = ["CAVRDGNYKYVF", "CAASGGSYIPTF", "CAVNDYKLSF"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def transformers():
    return pytest.importorskip("transformers", reason="the Hugging Face extra is not installed: pip install 'tcrbench[hf]'")


def save_bert(folder: Path, seed: int = 0, lower_case: bool = False, cls: str = "[CLS]") -> Path:
    """A TCR-BERT-shaped checkpoint: a WordPiece vocabulary of single residues, read space-separated."""
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *AA]) + "\n")
    tokenizer = transformers.BertTokenizer(str(folder / "vocab.txt"), do_lower_case=lower_case, cls_token=cls)
    config = transformers.BertConfig(vocab_size=25, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=64)
    torch.manual_seed(seed)
    transformers.BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_esm(folder: Path, seed: int = 0) -> Path:
    """An ESM-2-shaped checkpoint (a masked-LM head on top, as published): its tokenizer splits residues itself."""
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(ESM_VOCAB) + "\n")
    tokenizer = transformers.EsmTokenizer(str(folder / "vocab.txt"))
    config = transformers.EsmConfig(vocab_size=len(ESM_VOCAB), hidden_size=16, num_hidden_layers=1,
                                    num_attention_heads=2, intermediate_size=32, pad_token_id=1, mask_token_id=32,
                                    position_embedding_type="rotary", max_position_embeddings=1026)
    torch.manual_seed(seed)
    transformers.EsmForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, transformers) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf")
    return {"bert": save_bert(root / "bert"), "esm": save_esm(root / "esm")}


def create(spec: str):
    with temporary_plugins() as plugins:
        return plugins.registry.create(Kind.ENCODER, spec)


def batch(alpha: bool = False):
    return Tokenizer(None).encode_pairs(PEPTIDES, BETA, ALPHA if alpha else None)


def recorded_inputs(adapter) -> list[dict]:
    """What the Hugging Face model is called with, captured at its forward."""
    seen: list[dict] = []
    adapter.model.register_forward_pre_hook(lambda _m, _a, kwargs: seen.append(kwargs), with_kwargs=True)
    return seen


@pytest.mark.parametrize("kind", ["bert", "esm"])
def test_loads_offline_and_embeds_deterministically(checkpoints, kind, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("loading a local checkpoint tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(hf_adapter, "_LOADED", {})  # load from disk here, not from an earlier test's copy
    factory = create(f"hf:path={checkpoints[kind]}")
    assert factory.identity.startswith(f"{kind}/16/") and len(factory.identity.split("/")[2]) == 16
    frame = pl.DataFrame({"cdr3b": BETA + BETA[:1], "cdr3a": ALPHA + ALPHA[:1]})
    x = factory.embed_tcrs(frame, device="cpu")
    assert x.shape == (4, 16) and x.dtype == np.float32 and np.isfinite(x).all()
    assert np.array_equal(x[0], x[3]) and not np.allclose(x[0], x[1])
    # a fresh factory, and a table holding other TCRs, give the same vector to the same TCR
    again = create(f"hf:path={checkpoints[kind]}").embed_tcrs(frame[[1, 0]], device="cpu")
    assert np.array_equal(again, x[[1, 0]])
    # CDR3α is read under chains=auto: β alone gives other vectors
    beta_only = factory.embed_tcrs(frame.drop("cdr3a"), device="cpu")
    assert not np.allclose(beta_only[0], x[0])
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # the loader restores what it found


def test_offline_sets_and_restores_the_variables(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    with hf_adapter.offline():
        assert os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ and os.environ["TRANSFORMERS_OFFLINE"] == "0"


@pytest.mark.parametrize(
    "kind, chains, alpha, expected",
    [
        ("bert", "beta", True, [["[CLS]", *BETA[0], "[SEP]"]]),
        ("bert", "auto", False, [["[CLS]", *BETA[0], "[SEP]"]]),
        ("bert", "auto", True, [["[CLS]", *ALPHA[0], "[SEP]", *BETA[0], "[SEP]"]]),
        ("esm", "beta", True, [["<cls>", *BETA[0], "<eos>"]]),
        ("esm", "both", True, [["<cls>", *ALPHA[0], "<eos>", *BETA[0], "<eos>"]]),
    ],
)
def test_sequences_reach_the_model_as_its_tokenizer_expects(checkpoints, kind, chains, alpha, expected):
    encoder = create(f"hf:path={checkpoints[kind]},chains={chains}").build(64)
    adapter = encoder.tcr
    assert adapter.residues.spaced is (kind == "bert")  # TCR-BERT's vocabulary needs spaces, ESM's splits itself
    seen = recorded_inputs(adapter)
    encoder.pooled(batch(alpha))
    (inputs,) = seen
    tokenizer = adapter.residues.tokenizer
    rows = [tokenizer.convert_ids_to_tokens([i for i in ids.tolist() if i != tokenizer.pad_token_id])
            for ids in inputs["input_ids"]]
    assert rows[:1] == expected
    assert tokenizer.unk_token_id not in inputs["input_ids"]
    if kind == "bert" and alpha and chains != "beta":  # the pair's second sentence is segment 1
        types = inputs["token_type_ids"][0][: len(expected[0])].tolist()
        assert types == [0] * (len(ALPHA[0]) + 2) + [1] * (len(BETA[0]) + 1)
    if kind == "esm":
        assert "token_type_ids" not in inputs


def test_mean_pooling_reads_the_residues_and_cls_the_first_token(checkpoints):
    factory = create(f"hf:path={checkpoints['bert']},chains=beta")
    adapter = factory.adapter().eval()
    ids = adapter.residues.tokenizer(" ".join(BETA[0]), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        hidden = adapter.model(input_ids=ids).last_hidden_state[0]
        mean = adapter.run(adapter.residues.encode([(None, BETA[0])]))
        adapter.pooling = "cls"
        first = adapter.run(adapter.residues.encode([(None, BETA[0])]))
    assert torch.allclose(mean[0], hidden[1:-1].mean(0), atol=1e-6)  # [CLS] and [SEP] left out
    assert torch.allclose(first[0], hidden[0], atol=1e-6)


def test_a_tokenizer_that_cannot_read_residues_is_refused(tmp_path, transformers):
    # do_lower_case=True (BERT's default) against an upper-case residue vocabulary: every residue would be [UNK]
    folder = save_bert(tmp_path / "lower", lower_case=True)
    with pytest.raises(UsageError, match=r"does not read the 20 amino acids as one token each") as err:
        create(f"hf:path={folder}").build(64)
    assert "\n" not in str(err.value)


def test_special_tokens_outside_the_models_vocabulary_are_refused(tmp_path, transformers):
    # TCR-BERT's own code passes its special tokens (*, |, $) when loading; a folder saved without them would make
    # the tokenizer add a [CLS] of its own, past the end of the model's embedding table
    folder = save_bert(tmp_path / "foreign_cls", cls="<s>")
    with pytest.raises(UsageError, match=r"the tokenizer's <s> \(ids 25\) are not in the model's vocabulary of 25"):
        create(f"hf:path={folder}").build(64)


def _broken(tmp_path: Path, what: str, checkpoints) -> str:
    if what == "missing":
        return str(tmp_path / "nope")
    if what == "file":
        (tmp_path / "weights.bin").write_bytes(b"x")
        return str(tmp_path / "weights.bin")
    folder = tmp_path / what
    if what == "empty":
        folder.mkdir()
        (folder / "README.md").write_text("not a model")
    elif what == "gpt2":
        shutil.copytree(checkpoints["bert"], folder)
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    elif what == "no_weights":
        shutil.copytree(checkpoints["bert"], folder)
        (folder / "model.safetensors").unlink()
    elif what == "no_tokenizer":
        folder.mkdir()
        shutil.copy(checkpoints["bert"] / "config.json", folder)
        shutil.copy(checkpoints["bert"] / "model.safetensors", folder)
    return str(folder)


@pytest.mark.parametrize(
    "what, words",
    [
        ("missing", ["does not exist"]),
        ("file", ["is not a folder"]),
        ("empty", ["has no config.json", "found README.md"]),
        ("gpt2", ["names a 'gpt2' model", "supported model types: bert", "esm"]),
        ("no_weights", ["no PyTorch weights"]),
        ("no_tokenizer", ["has no tokenizer"]),
    ],
)
def test_a_folder_that_is_not_a_supported_model_gets_one_line(tmp_path, checkpoints, what, words):
    with pytest.raises(UsageError) as err:
        create(f"hf:path={_broken(tmp_path, what, checkpoints)}")
    message = str(err.value)
    assert message.startswith("encoder 'hf': ") and "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_the_command_line_refuses_a_missing_path_in_one_line(tmp_path):
    from tcrbench.cli.main import app

    result = CliRunner().invoke(app, ["run", "--quiet", "--out", str(tmp_path / "run"), "--encoder",
                                      f"hf:path={tmp_path / 'nope'}", "--objective", "none"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "encoder 'hf'" in lines[0] and "does not exist" in lines[0]
    assert not (tmp_path / "run").exists()


def test_without_the_extra_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(hf_adapter, "installed", lambda module: module != "transformers")
    with pytest.raises(UsageError, match=r"needs transformers .*pip install 'tcrbench\[hf\]'"):
        create(f"hf:path={tmp_path}")


def test_identity_follows_the_content_not_the_path(tmp_path, checkpoints):
    copied = shutil.copytree(checkpoints["bert"], tmp_path / "elsewhere")
    other = save_bert(tmp_path / "retrained", seed=1)
    original = create(f"hf:path={checkpoints['bert']}")
    assert create(f"hf:path={copied}").identity == original.identity
    assert create(f"hf:path={other}").identity != original.identity
    # a configuration may pin the checkpoint: the right one passes, another is refused
    assert create(f"hf:path={copied},identity={original.identity}").identity == original.identity
    with pytest.raises(UsageError, match=r"not the bert/16/\w+ the configuration pins"):
        create(f"hf:path={other},identity={original.identity}")
    with pytest.raises(UsageError, match=r"layer 3 out of range; the model has 1 layers"):
        create(f"hf:path={copied},layer=3")


def test_fine_tuning_trains_the_checkpoint_and_leaves_the_next_cell_alone(checkpoints):
    from safetensors.torch import load_file

    from tcrbench.run.config import Budget
    from tcrbench.training.finetune import finetune

    factory = create(f"hf:path={checkpoints['bert']}")
    saved = load_file(str(checkpoints["bert"] / "model.safetensors"))
    name = "encoder.layer.0.attention.self.query.weight"
    frame = tiny_dataset(n_positives_per_peptide=4)
    tokens = Tokenizer(None).encode_pairs(frame["peptide"], frame["cdr3b"], None)
    labels = torch.tensor(frame["label"].to_list(), dtype=torch.float32)
    budget = Budget(finetune_steps=3, batch_size=16, lr=1e-2, patience=0)
    model, stats = finetune(factory.build(64), tokens, labels, budget, seed=0, device=torch.device("cpu"))
    assert stats.steps == 3
    trained = model.encoder.tcr.model.state_dict()[name]
    assert not torch.allclose(trained, saved[name])  # gradients reached the checkpoint's own weights
    assert torch.equal(factory.build(64).tcr.model.state_dict()[name], saved[name])  # the next cell starts afresh


def test_probe_and_finetune_run_end_to_end(tmp_path, checkpoints):
    from tcrbench.cli.main import app

    frame = tiny_dataset(n_positives_per_peptide=8)
    frame = frame.with_columns(cdr3a=pl.Series([ALPHA[i % 3] for i in range(frame.height)]))
    frame.write_csv(tmp_path / "pairs.csv")
    identity = create(f"hf:path={checkpoints['esm']}").identity
    args = ["run", "--quiet", "--out", str(tmp_path / "run"), "--data", str(tmp_path / "pairs.csv"),
            "--encoder", f"hf:path={checkpoints['esm']}", "--objective", "none", "--protocol", "probe",
            "--protocol", "finetune", "--folds", "2", "--steps", "3", "--batch-size", "32", "--no-baselines",
            "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(p.read_text()) for p in sorted((tmp_path / "run" / "rows").glob("*.json"))]
    assert sorted((r["protocol"], r["fold"]) for r in rows) == [("finetune", 0), ("finetune", 1), ("probe", 0),
                                                                 ("probe", 1)]
    for row in rows:
        assert row["status"] == "ok", row.get("reason")
        assert row["params"]["encoder"]["identity"] == identity and row["params"]["encoder"]["name"] == "hf"
        assert 0.0 <= row["metrics"]["auroc"] <= 1.0


def test_new_weights_at_the_same_path_give_a_new_run_hash(tmp_path, checkpoints):
    """The run folder's hash covers the checkpoint's content, so changed weights cannot resume into old rows."""
    import shutil

    from tcrbench.plugins.loader import get_plugins
    from tcrbench.run.config import RunConfig
    from tcrbench.run.runner import Runner

    tiny_dataset(n_positives_per_peptide=4).write_csv(tmp_path / "pairs.csv")
    folder = tmp_path / "model"
    shutil.copytree(checkpoints["esm"], folder)

    def run_hash() -> str:
        cfg = RunConfig(data=str(tmp_path / "pairs.csv"), encoder=f"hf:path={folder}", pairs=[], baselines=[])
        runner = Runner(cfg, get_plugins(), out=tmp_path / "run", quiet=True)
        runner.setup(open_store=False)
        return runner.config_hash

    first = run_hash()
    assert run_hash() == first
    shutil.rmtree(folder)
    shutil.copytree(checkpoints["bert"], folder)
    assert run_hash() != first
