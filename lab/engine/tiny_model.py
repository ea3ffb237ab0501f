"""Build the lab's tiny model offline: a random-weight two-layer Llama and a byte-level BPE
tokenizer trained on a few paragraphs of text, saved as a Hugging Face model directory.

Run by `npu-lab` with the real engine's install on PYTHONPATH (transformers, tokenizers and
torch come from there; nothing is downloaded):

    PYTHONPATH=<engine site> python3 tiny_model.py OUT_DIR

Sizes: hidden 128 with two attention heads (head size 64: vLLM's CPU attention refuses 16),
two layers, a 512-token vocabulary, 1024 positions.  The weights are random (seeded): the
completions are nonsense, served by the real engine through the real code paths.
"""
import json
import sys
from pathlib import Path

CORPUS = """\
The cluster has two nodes. Each node runs one engine, and the head node serves the API.
A data parallel group starts its headless ranks first and the head last; the head waits
until every engine has joined, and only then listens on its port. Operators check every
link before they serve, because a broken fabric makes the group hang at start.
The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000. Punctuation: , . ; : ! ? ( ) [ ] { } " ' - /
San Francisco is a city in California. The capital of France is Paris. Hello, my name is
"""


def build(out):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=["<s>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS.splitlines() * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", model_max_length=1024)
    fast.save_pretrained(str(out))

    torch.manual_seed(20261130)
    config = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=128,
                         intermediate_size=256, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, max_position_embeddings=1024,
                         bos_token_id=tok.token_to_id("<s>"), eos_token_id=tok.token_to_id("</s>"),
                         torch_dtype="bfloat16", tie_word_embeddings=False)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(str(out), safe_serialization=True)
    (out / "npu-lab-model.json").write_text(json.dumps({
        "built_by": "lab/engine/tiny_model.py", "layers": 2, "hidden_size": 128,
        "heads": 2, "vocab_size": tok.get_vocab_size()}, indent=1) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: tiny_model.py OUT_DIR")
    build(sys.argv[1])
