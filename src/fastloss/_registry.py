"""Name -> loss class.  Classes register themselves when defined (see
``Loss.__init_subclass__``); a name is the class name, the function name or an
alias, matched without regard to case."""
from __future__ import annotations

_BY_NAME: dict = {}

# the metadata every loss class declares (see fastloss.Loss), checked here so
# that the adapters reading it can trust it
TARGET_KINDS = ("elementwise", "labels", "rows", None)
LINKS = (None, "sigmoid", "softmax")


def check_metadata(cls):
    if cls.target_kind not in TARGET_KINDS:
        raise TypeError(f"{cls.__name__}.target_kind must be one of {TARGET_KINDS}, "
                        f"got {cls.target_kind!r}")
    if cls.link not in LINKS:
        raise TypeError(f"{cls.__name__}.link must be one of {LINKS}, got {cls.link!r}")
    if not isinstance(cls.has_hessian, bool) or not isinstance(cls.hessian_needs_logits, bool):
        raise TypeError(f"{cls.__name__}.has_hessian and hessian_needs_logits must be bools")
    if cls.hessian_needs_logits and not (cls.has_hessian and "from_logits" in cls._param_names):
        raise TypeError(f"{cls.__name__}.hessian_needs_logits needs has_hessian and a "
                        "from_logits parameter")


def register(cls, names):
    check_metadata(cls)
    for name in names:
        key = name.lower()
        other = _BY_NAME.get(key)
        if other is not None and other is not cls:
            raise RuntimeError(f"loss name {name!r} is taken by {other.__name__}")
        _BY_NAME[key] = cls


def get(name, **params):
    """A loss instance by name: ``fl.get("huber", delta=2.0)``.

    `name` may be the class name (``"Huber"``), the function name
    (``"huber"``) or an alias (``"mse"``); case does not matter.  Keyword
    arguments go to the constructor.

    >>> import fastloss as fl
    >>> fl.get("huber", delta=2.0)
    Huber(delta=2.0, reduction='mean')
    >>> type(fl.get("MSE")) is fl.MeanSquaredError
    True
    """
    if isinstance(name, type) and name in _BY_NAME.values():
        return name(**params)
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    try:
        cls = _BY_NAME[name.lower()]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; fastloss.available() lists the names") from None
    return cls(**params)


def available():
    """Every name ``get`` accepts (class names, function names, aliases), sorted.

    >>> import fastloss as fl
    >>> {"Huber", "huber", "mse", "QuantileLoss"} <= set(fl.available())
    True
    """
    names = set()
    for cls in set(_BY_NAME.values()):
        names.add(cls.__name__)
        names.add(cls.function_name)
        names.update(cls.aliases)
    return sorted(names)


def loss_classes():
    """The registered classes, in definition order."""
    seen = []
    for cls in _BY_NAME.values():
        if cls not in seen:
            seen.append(cls)
    return seen
