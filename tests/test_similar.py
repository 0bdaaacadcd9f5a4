import numpy as np
import pytest
import torch

from cnn_demo.inside import similar
from cnn_demo.inside.similar import embed, hidden, most_alike
from cnn_demo.network.model import Net, build
from cnn_demo.storage import checkpoint
from tests.conftest import synthetic_digits


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build().eval()


def hooked_hidden(model: Net, images: torch.Tensor) -> np.ndarray:
    """The independent truth: what fc_layer[1] (the ReLU) outputs in the model's own forward pass."""
    seen = []
    handle = model.fc_layer[1].register_forward_hook(lambda module, inputs, output: seen.append(output))
    with torch.no_grad():
        model(images.unsqueeze(1).float() / 255)
    handle.remove()
    return seen[0].numpy()


def test_embedding_is_the_hidden_layer_unit_length(model):
    images, _ = synthetic_digits(50, seed=3)
    embedding = embed(model, images, batch_size=16)  # 50 = 3 full batches and a short one
    assert embedding.shape == (50, 100) and embedding.dtype == torch.float32
    truth = hooked_hidden(model, images)
    truth = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    assert np.allclose(embedding.numpy(), truth, atol=1e-5)
    with torch.no_grad():
        assert torch.allclose(
            hidden(model, images[:4].unsqueeze(1).float() / 255), torch.from_numpy(hooked_hidden(model, images[:4]))
        )


def test_progress_and_the_shared_model_left_alone(model):
    images, _ = synthetic_digits(25, seed=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seen = []
    embedding = embed(model, images, batch_size=10, device="cpu", progress=seen.append)
    assert seen == [0.4, 0.8, 1.0] and embedding.device.type == "cpu"
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_training_image_finds_itself_first(model):
    images, _ = synthetic_digits(300, seed=4)
    embedding = embed(model, images)
    for i in (0, 17, 299):
        indices, sims = most_alike(model, images[i].numpy() / 255, embedding, k=5)
        assert indices[0] == i and sims[0] == pytest.approx(1.0, abs=1e-5)
        assert len(indices) == 5 and (np.diff(sims) <= 1e-6).all()  # most alike first


def test_bf16_autocast_ranks_alike(model):
    """The app embeds in bf16 where the CPU has it: the same neighbours, to bf16's precision."""
    images, _ = synthetic_digits(200, seed=9)
    exact = embed(model, images)
    fast = embed(model, images, autocast=torch.bfloat16)
    assert fast.dtype == torch.float32 and ((exact * fast).sum(1) > 0.99).all()  # each row's cosine to the exact one
    for i in (5, 150):
        indices, sims = most_alike(model, images[i].numpy() / 255, fast, k=3, autocast=torch.bfloat16)
        assert indices[0] == i and sims[0] > 0.99


def test_similarities_are_cosines(model):
    images, _ = synthetic_digits(100, seed=5)
    embedding = embed(model, images)
    query = np.zeros((28, 28), np.float32)
    query[8:20, 13:15] = 1.0  # a drawn "1", not in the set
    indices, sims = most_alike(model, query, embedding, k=10)
    vectors = hooked_hidden(model, images)
    q = hooked_hidden(model, torch.from_numpy((query * 255).astype(np.uint8))[None])[0]
    cosines = vectors @ q / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(q))
    assert list(indices) == list(np.argsort(-cosines, kind="stable")[:10])
    assert np.allclose(sims, cosines[indices], atol=1e-5)
    assert ((sims >= 0) & (sims <= 1 + 1e-6)).all()  # hidden units after ReLU are never negative


def test_cli(tmp_path, monkeypatch, capsys, model):
    path = checkpoint.save(model, tmp_path / "m.safetensors", {})
    train, test = synthetic_digits(200, seed=6), synthetic_digits(20, seed=7)
    monkeypatch.setattr(similar, "load_mnist", lambda split: train if split == "train" else test)
    assert similar.main([str(path), "--test-index", "3", "-k", "4", "--device", "cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("embedded 200 training images") and len(out) == 2 + 4
    assert similar.main([str(path), "--test-index", "20"]) == 2
