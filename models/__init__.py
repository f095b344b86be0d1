"""Model factory: the encoders by name (--encoder; models.encoder is their interface), each built from the processed
data set and the Model settings. The BiLSTM encoder has four architectures (--arch); the transformer's module imports
Hugging Face transformers only when one is built."""
import utils  # noqa: F401  (silences fastNLP's pkg_resources warning before fastNLP is imported)

from models.cnn_lstm import BILSTM_ARCHITECTURES, CNNBiLSTM
from models.encoder import Encoder, ModelSpec
from models.transformer import POOLINGS, TransformerTagger

__all__ = ["ARCHITECTURES", "ENCODERS", "POOLINGS", "encoder_defaults", "get_model", "register_encoder"]
ARCHITECTURES = BILSTM_ARCHITECTURES
ENCODERS: dict[str, type[Encoder]] = {"bilstm": CNNBiLSTM, "transformer": TransformerTagger}


def register_encoder(name: str, encoder: type[Encoder]) -> None:
    """Make `encoder` buildable as --encoder `name` (in this process: the flags read this table)."""
    if not (isinstance(encoder, type) and issubclass(encoder, Encoder)):
        raise TypeError(f"register_encoder({name!r}, ...): expected a subclass of models.encoder.Encoder")
    ENCODERS[name] = encoder


def encoder_defaults(encoder: str) -> dict[str, object]:
    """The training flags whose default is the encoder's: --need_cut (its NEED_CUT) and its DEFAULTS
    (models.encoder.Encoder)."""
    if encoder not in ENCODERS:
        raise ValueError(f"--encoder {encoder!r}: expected one of {', '.join(ENCODERS)}")
    return {"need_cut": ENCODERS[encoder].NEED_CUT, **ENCODERS[encoder].DEFAULTS}


def get_model(arch: str, data, hidden_size: int = 200, n_layer: int = 1, dropout: float = 0.5,
              crf: bool = False, word_dropout: float = 0.01, task_layers: list[int] | None = None, *,
              encoder: str = "bilstm", pretrained: str | None = None, subword_pooling: str = "first") -> Encoder:
    """Build `arch` of `encoder` for the tasks of `data` (a utils.data.dataset.Dataset), initialised from the global
    RNG (a transformer: its pretrained weights, the heads from the RNG). `task_layers` (1-based, one per task)
    chooses the layer each task reads in "hier-lstm" only."""
    encoder_defaults(encoder)
    cls = ENCODERS[encoder]
    if arch not in cls.ARCHITECTURES:
        known = f"expected one of {', '.join(ARCHITECTURES)}" if arch not in ARCHITECTURES else \
            f"defined for --encoder bilstm only (--encoder {encoder}: {', '.join(cls.ARCHITECTURES)})"
        raise ValueError(f"--arch {arch}: {known}")
    if task_layers is not None and arch != "hier-lstm":
        raise ValueError(f"get_model(task_layers=...) applies to --arch hier-lstm only, not {arch!r}")
    return cls.build(data, ModelSpec(arch, hidden_size, n_layer, dropout, crf, pretrained, subword_pooling,
                                     word_dropout, task_layers))
