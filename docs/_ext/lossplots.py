"""The figure on each loss page: loss, gradient and hessian along one line
through the input space, computed by fastloss at build time.

A *path* maps a scalar x to (y_true, y_pred, d y_pred / d x); the curves are
the loss, its derivative along the path (Σ gradient · dy_pred/dx) and, where
the loss has a hessian and the path moves one coordinate, the hessian
diagonal of that coordinate.  Pointwise losses move every sample at once
(``reduction="none"``, one call per parameter value); the others are called
once per x.  A registered elementwise loss with no entry below still gets a
figure (the error or logit axis, default parameters), so a new pointwise loss
is pictured without anyone writing this file.
"""
from __future__ import annotations

import numpy as np

import fastloss as fl

# name -> (x axis, y_true, sweep parameter and values, fixed parameters)
POINTWISE = {
    "mean_squared_error": ("error", 0.0, None, {}),
    "mean_absolute_error": ("error", 0.0, None, {}),
    "huber": ("error", 0.0, ("delta", [0.5, 1.0, 2.0]), {}),
    "log_cosh": ("error", 0.0, None, {}),
    "pinball_loss": ("error", 0.0, ("quantile", [0.1, 0.5, 0.9]), {}),
    "expectile_loss": ("error", 0.0, ("expectile", [0.1, 0.5, 0.9]), {}),
    "pseudo_huber": ("error", 0.0, ("delta", [0.5, 1.0, 2.0]), {}),
    "poisson": ("rate", 2.0, None, {}),
    "tweedie_deviance": ("mean", 2.0, ("power", [0.0, 1.0, 1.5, 2.0, 3.0]), {}),
    "binary_crossentropy": ("logit", 1.0, ("label_smoothing", [0.0, 0.1, 0.3]), {"from_logits": True}),
    "balanced_crossentropy": ("logit", 1.0, ("beta", [0.25, 0.5, 0.75]), {"from_logits": True}),
    "binary_focal_crossentropy": ("logit", 1.0, ("gamma", [0.0, 1.0, 2.0, 5.0]),
                                  {"from_logits": True, "alpha": None}),
    "hinge": ("score", 1.0, None, {}),
    "squared_hinge": ("score", 1.0, None, {}),
}

_X = {
    "error": (np.linspace(-3, 3, 401), "error  ŷ − y"),
    "logit": (np.linspace(-6, 6, 401), "logit x of the positive class (y = 1)"),
    "score": (np.linspace(-3, 3, 401), "score ŷ for the label t = +1"),
    "rate": (np.linspace(0.05, 6, 400), "predicted rate ŷ (y = 2)"),
    "mean": (np.linspace(0.05, 6, 400), "predicted mean μ (y = 2)"),
}


def _eye(k, i):
    e = np.zeros(k)
    e[i] = 1.0
    return e


def _row_paths():
    """Paths for losses that are not elementwise: name -> (xlabel, xs, make,
    sweep, fixed, one_coordinate)."""
    three = np.linspace(-6, 6, 241)
    prob = np.linspace(0.02, 0.98, 241)
    shift = np.linspace(-4, 4, 241)
    conf = np.linspace(0.0, 1.0, 241)
    mask = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])

    def logit_row(x):                 # true class 0 of 3, other logits 0
        return np.array([0]), np.array([[x, 0.0, 0.0]]), np.array([[1.0, 0.0, 0.0]])

    def dense_logit_row(x):
        return np.array([[1.0, 0.0, 0.0]]), np.array([[x, 0.0, 0.0]]), np.array([[1.0, 0.0, 0.0]])

    def dense_prob_row(x):            # p of the true class x, the rest shared
        rest = (1 - x) / 2
        return (np.array([[1.0, 0.0, 0.0]]), np.array([[x, rest, rest]]),
                np.array([[1.0, -0.5, -0.5]]))

    def dist(x):                      # two-outcome distributions, target (0.3, 0.7)
        return np.array([[0.3, 0.7]]), np.array([[1 - x, x]]), np.array([[-1.0, 1.0]])

    def box(x):                       # a 2×2 box sliding along x past the target
        return (np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([[x, 0.5, x + 2.0, 2.5]]),
                np.array([[1.0, 0.0, 1.0, 0.0]]))

    def soft_mask(x):                 # confidence x on the true mask, 1 - x elsewhere
        return mask, x * mask + (1 - x) * (1 - mask), 2 * mask - 1

    def lovasz_h(x):
        t = 2 * mask - 1
        return mask[None], (x * t)[None], t[None]

    def lovasz_s(x):
        labels = mask.astype(np.int64)
        probs = np.stack([1 - (x * mask + (1 - x) * (1 - mask)), x * mask + (1 - x) * (1 - mask)], 1)
        d = np.stack([-(2 * mask - 1), 2 * mask - 1], 1)
        return labels, probs, d

    def kappa(x):
        labels = np.array([0, 1, 2, 1])
        onehot = np.eye(3)[labels]
        return labels, x * onehot + (1 - x) / 3, onehot - 1 / 3

    def pair(x):
        return np.array([1.0, 0.0]), np.array([x, 0.0]), np.array([1.0, 0.0])

    return {
        "categorical_crossentropy": ("logit of the true class (3 classes, others 0)", three,
                                     dense_logit_row, ("label_smoothing", [0.0, 0.1, 0.3]),
                                     {"from_logits": True}, True),
        "sparse_categorical_crossentropy": ("logit of the true class (3 classes, others 0)", three,
                                            logit_row, None, {"from_logits": True}, True),
        "categorical_focal_crossentropy": ("probability of the true class (3 classes)", prob,
                                           dense_prob_row, ("gamma", [0.0, 1.0, 2.0, 5.0]),
                                           {"alpha": None}, False),
        "multiclass_hinge": ("score of the true class (3 classes, others 0)", three,
                             logit_row, None, {}, True),
        "kl_divergence": ("predicted p = (1 − x, x), target (0.3, 0.7)", prob, dist, None, {}, False),
        "hellinger_distance": ("predicted p = (1 − x, x), target (0.3, 0.7)", prob, dist, None, {}, False),
        "cosine_similarity_loss": ("predicted p = (1 − x, x), target (0.3, 0.7)", prob, dist, None, {}, False),
        "giou_loss": ("horizontal offset of the predicted box", shift, box, None, {}, False),
        "diou_loss": ("horizontal offset of the predicted box", shift, box, None, {}, False),
        "ciou_loss": ("horizontal offset of the predicted box", shift, box, None, {}, False),
        "jaccard_loss": ("confidence x on a 3-of-6 mask", conf, soft_mask, None, {}, False),
        "f1_loss": ("confidence x on a 3-of-6 mask", conf, soft_mask, None, {}, False),
        "tversky_loss": ("confidence x on a 3-of-6 mask", conf, soft_mask,
                         ("gamma", [1.0, 2.0]), {"alpha": 0.3, "beta": 0.7}, False),
        "lovasz_hinge": ("margin scale x on a 3-of-6 mask (logits x·t)", shift, lovasz_h, None, {}, False),
        "lovasz_softmax": ("confidence x on a 3-of-6 mask (2 classes)", conf, lovasz_s, None, {}, False),
        "kappa_loss": ("weight x of the correct one-hot (4 samples, 3 classes)", conf, kappa,
                       ("weights", [None, "linear", "quadratic"]), {}, False),
        "ranknet": ("score of the relevant item (the other scores 0)", shift, pair,
                    ("sigma", [0.5, 1.0, 2.0]), {}, True),
        "lambdarank": ("score of the relevant item (the other scores 0)", shift, pair,
                       ("sigma", [0.5, 1.0, 2.0]), {}, True),
    }


def _label(sweep, value):
    return "default" if sweep is None else f"{sweep[0]}={value!r}"


def pointwise_curves(name):
    """{label: (x, loss, gradient, hessian or None)} for an elementwise loss."""
    cls = type(fl.get(name))
    kind, y0, sweep, fixed = POINTWISE.get(name) or (
        ("logit", 1.0, None, {"from_logits": True}) if cls.link == "sigmoid"
        else ("error", 0.0, None, {}))
    x, _ = _X[kind]
    out = {}
    for value in (sweep[1] if sweep else [None]):
        params = dict(fixed, **({sweep[0]: value} if sweep else {}))
        loss = cls(**params, reduction="none")
        y = np.full_like(x, y0)
        yp = x + y0 if kind == "error" else x
        value_ = loss(y, yp)
        if hasattr(loss, "gradient_hessian"):
            g, h = loss.gradient_hessian(y, yp)
        else:
            g, h = loss.gradient(y, yp), None
        out[_label(sweep, value)] = (x, value_, g, h)
    return out


def path_curves(name):
    """{label: (x, loss, derivative along the path, hessian or None)}."""
    xlabel, xs, make, sweep, fixed, one_coord = _row_paths()[name]
    cls = type(fl.get(name))
    out = {}
    for value in (sweep[1] if sweep else [None]):
        loss = cls(**dict(fixed, **({sweep[0]: value} if sweep else {})))
        ls, gs, hs = [], [], []
        with_h = one_coord and hasattr(loss, "gradient_hessian")
        for x in xs:
            yt, yp, d = make(x)
            v, g = loss.loss_gradient(yt, yp)
            ls.append(v)
            gs.append(float(np.sum(g * d)))
            if with_h:
                hs.append(float(np.sum(loss.gradient_hessian(yt, yp)[1] * d)))
        out[_label(sweep, value)] = (xs, np.array(ls), np.array(gs),
                                     np.array(hs) if with_h else None)
    return out


def has_curves(name):
    cls = type(fl.get(name))
    return cls.target_kind == "elementwise" or name in _row_paths()


def xlabel(name):
    if type(fl.get(name)).target_kind == "elementwise" and name not in _row_paths():
        kind = POINTWISE.get(name, ("error",))[0]
        if name not in POINTWISE and type(fl.get(name)).link == "sigmoid":
            kind = "logit"
        return _X[kind][1]
    return _row_paths()[name][0]


def curve_figure(name):
    """The loss page's figure: loss | gradient | hessian, one line per parameter value."""
    import matplotlib.pyplot as plt

    pointwise = type(fl.get(name)).target_kind == "elementwise" and name not in _row_paths()
    curves = pointwise_curves(name) if pointwise else path_curves(name)
    with_h = any(h is not None for *_, h in curves.values())
    ncols = 3 if with_h else 2
    # sized for the page's text column (about 700 px): no downscaling of the fonts
    fig, axes = plt.subplots(1, ncols, figsize=(2.9 * ncols, 2.7), layout="constrained")
    titles = ["loss", "gradient" if pointwise else "derivative along x", "hessian"]
    for label, (x, v, g, h) in curves.items():
        axes[0].plot(x, v, label=label)
        axes[1].plot(x, g, label=label)
        if with_h and h is not None:
            axes[2].plot(x, h, label=label)
    # a long description of the x axis goes above the panels, once
    label = xlabel(name)
    if len(label) > 36:
        fig.suptitle(f"x: {label}", fontsize=9.5)
        label = "x"
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=11)
        ax.set_xlabel(label, fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=9)
    if len(curves) > 1:
        axes[0].legend(fontsize=8.5)
    return fig
