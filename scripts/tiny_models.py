"""What the tiny random fixture models share (imported by make-tiny-bert.py and make-tiny-cross-encoders.py)."""
import torch


def rounded(values):
    """Nine significant digits: every float32 exactly, in half the characters of Python's repr of a double."""
    return [float("%.9g" % v) for v in values]


def randomize(model, classifier_scale=1.0):
    """Weights wider than the default init, so that a mistake in any term moves the outputs far beyond the test
    tolerances; a `classifier` head's by `classifier_scale` more, so that its logits sit a few units apart."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm.weight" in name:
                parameter.copy_(1 + torch.randn_like(parameter) * 0.5)
            elif parameter.dim() == 1:
                parameter.copy_(torch.randn_like(parameter) * 0.5)
            elif "embeddings" in name:
                parameter.copy_(torch.randn_like(parameter))
            else:
                scale = classifier_scale if name.startswith("classifier") else 1.0
                parameter.copy_(torch.randn_like(parameter) * scale / parameter.shape[1] ** 0.5)
