import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_demo.network.model import build
from cnn_demo.storage import checkpoint
from cnn_demo.training import evaluate
from cnn_demo.training.evaluate import evaluate as run_evaluation
from cnn_demo.training.evaluate import per_class_accuracy, predict_logits, training_curves
from tests.conftest import synthetic_digits


@pytest.fixture(scope="module")
def model_and_set():
    """A model half way to learning the synthetic digits: right on some, wrong on others."""
    torch.manual_seed(0)
    model = build()
    images, labels = synthetic_digits(512, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), 2e-3)
    for _ in range(6):
        batch = torch.randint(0, len(images), (64,))
        loss = F.cross_entropy(model(images[batch].unsqueeze(1).float() / 255), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), synthetic_digits(600, seed=2)


def test_one_pass_gives_all_the_page_needs(model_and_set):
    model, (images, labels) = model_and_set
    result = run_evaluation(model, images, labels, batch_size=128)  # 600 = 4 full batches and a short one
    # the independent truth: the model's own forward pass, softmax and argmax done here
    with torch.no_grad():
        probs = F.softmax(model(images.unsqueeze(1).float() / 255), dim=1)
    assert np.array_equal(result.predictions, probs.argmax(1).numpy())
    assert np.allclose(result.confidences, probs.max(1).values.numpy(), atol=1e-5)
    assert len(np.unique(result.predictions)) > 3 and 0.1 < result.accuracy < 1  # some right, some wrong

    confusion = result.confusion
    assert confusion.shape == (10, 10) and confusion.sum() == len(labels)
    assert np.array_equal(confusion.sum(1), np.bincount(labels.numpy(), minlength=10))  # rows: true digits
    assert np.array_equal(confusion.sum(0), np.bincount(result.predictions, minlength=10))  # cols: predictions
    correct = (result.predictions == labels.numpy()).mean()
    assert result.accuracy == pytest.approx(correct) == pytest.approx(np.trace(confusion) / len(labels))
    expected_per_class = per_class_accuracy(torch.from_numpy(result.predictions), labels)
    assert result.per_class == pytest.approx(expected_per_class)
    for digit in range(10):
        assert result.per_class[digit] == pytest.approx(confusion[digit, digit] / confusion[digit].sum())


def test_cells_and_mistakes(model_and_set):
    model, (images, labels) = model_and_set
    result = run_evaluation(model, images, labels)
    for true in range(10):
        for predicted in range(10):
            cell = result.cell(true, predicted)
            assert len(cell) == result.confusion[true, predicted]
            assert (labels.numpy()[cell] == true).all() and (result.predictions[cell] == predicted).all()
    wrong = result.misclassified
    assert len(wrong) == len(labels) - np.trace(result.confusion) > 0
    assert (result.predictions[wrong] != labels.numpy()[wrong]).all()
    confident = result.mistakes(most_confident_first=True)
    unsure = result.mistakes(most_confident_first=False)
    assert sorted(confident) == sorted(unsure) == sorted(wrong)
    assert (np.diff(result.confidences[confident]) <= 0).all()
    assert (np.diff(result.confidences[unsure]) >= 0).all()


def test_the_most_common_mistake_is_the_largest_off_diagonal_cell(model_and_set):
    model, (images, labels) = model_and_set
    result = run_evaluation(model, images, labels)
    true, predicted = result.most_common_mistake()
    assert true != predicted
    mistakes = [(t, p) for t, p in zip(labels.tolist(), result.predictions.tolist()) if t != p]
    assert mistakes.count((true, predicted)) == max(mistakes.count(pair) for pair in set(mistakes))
    assert result.confusion[true, predicted] == len(result.cell(true, predicted))


def test_a_perfect_model_has_a_diagonal_matrix():
    labels = torch.arange(10).repeat(5)

    class Oracle(torch.nn.Module):  # answers the label hidden in pixel (0, 0)
        def forward(self, x):
            return F.one_hot((x[:, 0, 0, 0] * 255).round().long(), 10).float() * 10

    images = torch.zeros(50, 28, 28, dtype=torch.uint8)
    images[:, 0, 0] = labels.to(torch.uint8)
    result = run_evaluation(Oracle(), images, labels)
    assert result.accuracy == 1.0 and np.array_equal(result.confusion, np.diag([5] * 10))
    assert len(result.misclassified) == 0 and result.per_class == [1.0] * 10
    assert result.most_common_mistake() == (0, 0)  # none: the page starts on the first cell


def test_training_curves_use_epochs_as_the_x_axis():
    meta = {
        "config": {"train_images": 1000, "batch_size": 100},  # 10 steps per epoch
        "loss_history": [2.0] * 10 + [1.0] * 10,
        "test_accuracy_per_epoch": [0.9, 0.95],
    }
    curves = training_curves(meta)
    assert np.allclose(curves.loss_epochs, np.arange(1, 21) / 10)
    assert curves.loss[0] == pytest.approx(2.0)  # bias-corrected: starts at the first loss, not at 0
    assert curves.loss[-1] > 1.0 and curves.loss[-1] < 2.0 and (np.diff(curves.loss) <= 1e-12).all()
    assert list(curves.accuracy_epochs) == [1, 2] and list(curves.accuracy) == [0.9, 0.95]
    thinned = training_curves({**meta, "loss_history": list(np.linspace(2, 0, 5000))}, max_points=300)
    assert len(thinned.loss) <= 300 and thinned.loss_epochs[-1] == pytest.approx(500)
    assert training_curves({"recipe": "imported"}) is None  # an imported state_dict has no history


def test_cli_prints_accuracy_and_confusion(tmp_path, monkeypatch, capsys, model_and_set):
    model, test_set = model_and_set
    path = checkpoint.save(model, tmp_path / "m.safetensors", {})
    monkeypatch.setattr(evaluate, "load_mnist", lambda split: test_set)
    assert evaluate.main([str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 11 and out[0].endswith("/600 test images)")
    assert evaluate.main([str(path), "--confusion"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = np.array([[int(n) for n in line.split(":")[1].split()] for line in out[-10:]])
    assert np.array_equal(rows, run_evaluation(model, *test_set).confusion)


def test_predict_logits_still_scores_every_image(model_and_set):
    model, (images, _) = model_and_set
    assert predict_logits(model, images[:37], batch_size=10).shape == (37, 10)


def test_the_pages_passes_choose_their_threads_and_precision_and_give_the_same_answers(model_and_set, monkeypatch):
    """What the Evaluate page calls: the same results as the plain passes, every core while they run,
    the caller's one thread afterwards, and bf16 only where this machine's calibration chose it."""
    from cnn_demo.inside.similar import embed, most_alike
    from cnn_demo.training import device

    model, (images, labels) = model_and_set
    seen = []
    monkeypatch.setattr(evaluate, "evaluate", lambda *a: seen.append(torch.get_num_threads()) or run_evaluation(*a))
    with device.threads(1):
        result = evaluate.evaluate_on_every_core(model, images, labels)
        assert torch.get_num_threads() == 1
    assert seen == [device.CPU_CORES]
    assert np.array_equal(result.confusion, run_evaluation(model, images, labels).confusion)

    chosen = []
    monkeypatch.setattr(evaluate, "autocast_dtype", lambda d: chosen.append(d.type) or None)
    embedding = evaluate.embed_on_best_device(model, images)
    assert chosen == [device.pick_device("auto").type]
    assert torch.allclose(embedding, embed(model, images), atol=1e-5)  # (N, hidden), unit rows
    query = images[3].float().numpy() / 255
    indices, similarities = evaluate.most_alike_on_cpu(model, query, embedding, k=5)
    assert chosen[-1] == "cpu"
    expected = most_alike(model, query, embedding, k=5)
    assert np.array_equal(indices, expected[0]) and np.allclose(similarities, expected[1])
    assert indices[0] == 3  # the image itself is among the set embedded: the most alike
