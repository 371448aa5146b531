"""Base model references, tokenizer padding and the classifier head, on the tiny Llama."""
from __future__ import annotations

import pytest

from app.modeling import BaseModelError, bnb_config, load_base_model, load_tokenizer, resolve_base_model
from app.taxonomy import ID2LABEL


def test_hub_ids_and_paths_pass_through_unchanged(tmp_path):
    assert resolve_base_model("Qwen/Qwen2.5-7B-Instruct") == "Qwen/Qwen2.5-7B-Instruct"
    assert resolve_base_model(str(tmp_path)) == str(tmp_path)


def test_an_unknown_embedded_model_is_a_clear_error():
    with pytest.raises(BaseModelError, match="unknown embedded model 'Nope'"):
        resolve_base_model("embedded:Nope")


def test_tokenizer_pads_on_the_right_with_a_pad_distinct_from_eos(tiny_model_dir):
    tok = load_tokenizer(str(tiny_model_dir))
    assert tok.padding_side == "right" and tok.pad_token_id is not None
    assert tok.pad_token_id != tok.eos_token_id
    batch = tok(["the cap", "the liability of a party shall not exceed the fees"], padding=True)
    assert batch["input_ids"][0][-1] == tok.pad_token_id


def test_base_model_carries_the_seven_labels_and_pools_the_last_real_token(tiny_model_dir):
    import torch

    tok = load_tokenizer(str(tiny_model_dir))
    model = load_base_model(str(tiny_model_dir)).eval()
    assert model.config.id2label == ID2LABEL and model.config.num_labels == 7
    assert model.config.pad_token_id == tok.pad_token_id
    text = "the liability of a party shall not exceed the fees"
    alone = tok([text], return_tensors="pt")
    padded = tok([text, text + " paid in the twelve months before the claim"], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(model(**alone).logits[0], model(**padded).logits[0], atol=1e-5)


def test_quantization_names_are_checked():
    assert bnb_config("none", None) is None
    assert bnb_config("nf4", None).bnb_4bit_quant_type == "nf4"
    with pytest.raises(BaseModelError, match="unknown quantization 'int3'"):
        bnb_config("int3", None)
