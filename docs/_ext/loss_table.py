"""What each loss page says that a docstring cannot: its formula as math,
gradient and hessian, how to convert to the peers, the edge-case policy and
an example that checks the formula against fastloss.

Keyed by the registry's function name (``cls.function_name``).  Written from
SPEC.md (§2-§4), not from fastloss's output.  The page generator
(``fastloss_docs.py``) fails the build for a registered loss without an entry
here, and skips entries whose loss is not registered in this build (losses
still being written on other branches).

Fields (RST unless said):
  title      page title
  family     section of the loss index
  short      LaTeX for the index table (optional; default: formula)
  formula    LaTeX of the per-sample loss l_i (a ``.. math::`` block)
  where      symbols of the formula
  gradient   the gradient of l_i with respect to y_pred (RST, may hold math)
  hessian    the hessian diagonal, or why there is none
  peers      list of (peer, conversion) pairs
  edge       list of edge-case rules
  example    a doctest: computes the formula in NumPy and compares
"""

# Shared wording.
_PROB_CLIP = ("Probabilities are clipped to :math:`[\\epsilon, 1-\\epsilon]`, "
              ":math:`\\epsilon = 10^{-7}` (Keras); where the clip is active the "
              "gradient is 0 (the derivative of the clipped function).")
_LOGITS = ("With ``from_logits=True`` nothing is clipped: the log-sigmoid / log-softmax "
           "forms are exact for any finite logit, and a logit of :math:`-\\infty` is a "
           "masked class (probability exactly 0).")
_NAN = "NaN in the data propagates to the loss and the gradient."
_TIES = "At a kink the gradient takes the value stated above (no NaN, no random choice)."
_SETLEVEL = ("Set-level loss: the gradient couples all elements of a unit (image, class or "
             "the whole set); ``reduction`` acts over the units the loss names.")

LOSSES = {
    # ------------------------------------------------------------ regression
    "mean_squared_error": dict(
        title="Mean squared error", family="Regression",
        formula=r"l_i = \frac{1}{k}\sum_{j=1}^{k} (y_{ij} - \hat y_{ij})^2",
        where="For 1-D input :math:`k = 1`; for ``(n, k)`` a sample's loss is the mean over its k outputs (Keras).",
        gradient=r":math:`\partial l / \partial \hat y = 2(\hat y - y)` (per element, divided by k).",
        hessian=":math:`2` (divided by k), scaled like the gradient.",
        peers=[("keras.losses.MeanSquaredError", "equal (``mean`` = Keras' ``sum_over_batch_size`` with unit weights)."),
               ("torch.nn.functional.mse_loss", "equal with ``reduction='mean'``: the mean over all elements."),
               ("sklearn HalfSquaredError", "half of it: multiply sklearn's loss, gradient and hessian by 2."),
               ("XGBoost reg:squarederror / LightGBM regression", "half of it; see :mod:`fastloss.xgboost`.")],
        edge=["Infinite errors give ``+inf`` for ``sum`` and ``mean``, never NaN.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0.0, 1.0, 2.0]); p = np.array([0.5, 1.0, 4.0])
>>> bool(np.isclose(fl.mse(y, p), np.mean((y - p) ** 2)))
True
"""),
    "mean_absolute_error": dict(
        title="Mean absolute error", family="Regression",
        formula=r"l_i = |y_i - \hat y_i|",
        where="Row mean over k outputs for 2-D input.",
        gradient=r":math:`\operatorname{sign}(\hat y - y)`, 0 where :math:`\hat y = y` (as torch's ``l1_loss``).",
        hessian="0 everywhere (it exists, so boosting adapters accept the loss with ``hessian='unit'`` or ``h_min``).",
        peers=[("keras.losses.MeanAbsoluteError", "equal."),
               ("torch.nn.functional.l1_loss", "equal, including the zero gradient at ties."),
               ("sklearn AbsoluteError", "equal (sklearn's is not halved).")],
        edge=["Ties give gradient 0.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0.0, 1.0, 2.0]); p = np.array([0.5, 1.0, 4.0])
>>> bool(np.isclose(fl.mae(y, p), np.mean(np.abs(y - p))))
True
"""),
    "huber": dict(
        short=r"\tfrac12 e^2 \text{ if } |e| \le \delta \text{, else } \delta(|e| - \tfrac12\delta)",
        title="Huber loss", family="Regression",
        formula=r"l_i = \begin{cases} \tfrac12 e_i^2 & |e_i| \le \delta \\ \delta\,(|e_i| - \tfrac12\delta) & |e_i| > \delta \end{cases}, \qquad e_i = \hat y_i - y_i",
        where=r":math:`\delta` = ``delta`` > 0: quadratic inside, linear outside.",
        gradient=r":math:`e` where :math:`|e| \le \delta`, :math:`\delta\,\operatorname{sign}(e)` outside.",
        hessian=r"1 inside, 0 outside (at :math:`|e| = \delta` the inside branch is taken).",
        peers=[("keras.losses.Huber(delta)", "equal."),
               ("torch.nn.functional.huber_loss(delta=δ)", "equal; torch's ``smooth_l1_loss(beta=β)`` is ``huber / β``."),
               ("sklearn HuberRegressor", "see :mod:`fastloss.sklearn`: ``delta = epsilon·σ``, ``alpha = alpha·σ/2``."),
               ("XGBoost reg:squarederror", "a very large δ gives exactly its gradient and hessian.")],
        edge=["``delta <= 0`` is a ValueError naming ``delta``.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0.0, 1.0, 2.0, 3.0]); p = np.array([0.5, 1.0, 4.0, -1.0])
>>> e = p - y
>>> inside = np.abs(e) <= 1.5
>>> ref = np.mean(np.where(inside, 0.5 * e**2, 1.5 * (np.abs(e) - 0.75)))
>>> bool(np.isclose(fl.huber(y, p, delta=1.5), ref))
True
"""),
    "log_cosh": dict(
        title="Log-cosh loss", family="Regression",
        formula=r"l_i = \log\cosh(\hat y_i - y_i)",
        where=r"Computed as :math:`|e| + \log(1 + e^{-2|e|}) - \log 2`: no overflow for any error.",
        gradient=r":math:`\tanh(e)`.",
        hessian=r":math:`\operatorname{sech}^2(e) = 1 - \tanh^2(e)`.",
        peers=[("keras.losses.LogCosh", "equal.")],
        edge=["Finite for :math:`|e| = 10^4` (Keras' formula is too).", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0.0, 1.0, 2.0]); p = np.array([0.5, 1.0, 4.0])
>>> bool(np.isclose(fl.log_cosh(y, p), np.mean(np.log(np.cosh(p - y)))))
True
"""),
    "pinball_loss": dict(
        short=r"\max(q(y - \hat y),\ (q - 1)(y - \hat y))",
        title="Pinball (quantile) loss", family="Regression",
        formula=r"l_i = \begin{cases} q\,(y_i - \hat y_i) & y_i \ge \hat y_i \\ (1 - q)(\hat y_i - y_i) & y_i < \hat y_i \end{cases}",
        where="``quantile`` q in (0, 1), or a length-k array for ``(n, k)`` input (column j uses ``quantile[j]``: several quantiles in one pass). Alias ``QuantileLoss`` / ``quantile_loss``.",
        gradient=r":math:`-q` where :math:`y > \hat y`, :math:`1 - q` where :math:`y < \hat y`, 0 at ties.",
        hessian="0 (boosting: use ``hessian='unit'``, what XGBoost does for ``reg:quantileerror``).",
        peers=[("sklearn.metrics.mean_pinball_loss(alpha=q)", "equal; for k columns, the mean over columns of the per-column values."),
               ("sklearn PinballLoss", "equal away from ties.")],
        edge=["q outside (0, 1) is a ValueError naming ``quantile``; a quantile array of the wrong length is a ValueError at call time.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> from sklearn.metrics import mean_pinball_loss
>>> y = np.array([0.0, 1.0, 2.0, 3.0]); p = np.array([0.5, 1.0, 4.0, -1.0])
>>> ours = fl.pinball_loss(y, p, quantile=0.9)
>>> bool(np.isclose(ours, mean_pinball_loss(y, p, alpha=0.9)))
True
"""),
    "poisson": dict(
        short=r"\hat y - y \log(\hat y + \epsilon)",
        title="Poisson loss", family="Regression",
        formula=r"l_i = \hat y_i - y_i \log(\hat y_i + \epsilon) \quad\text{or, with log_input:}\quad l_i = e^{\hat y_i} - y_i \hat y_i",
        where=r":math:`\epsilon = 10^{-7}`; ŷ is the rate, or the log-rate with ``log_input=True``. The :math:`\log y!` term is left out.",
        gradient=r":math:`1 - y/(\hat y + \epsilon)`; with ``log_input``: :math:`e^{\hat y} - y`.",
        hessian=r":math:`y/(\hat y + \epsilon)^2`; with ``log_input``: :math:`e^{\hat y}`.",
        peers=[("keras.losses.Poisson", "equal (``log_input=False``)."),
               ("torch.nn.functional.poisson_nll_loss(log_input=True, full=False)", "equal with ``log_input=True``."),
               ("sklearn HalfPoissonLoss", "with ``log_input=True``: same gradient and hessian; sklearn's value adds a constant in y.")],
        edge=["A negative rate gives NaN (as Keras).", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0.0, 1.0, 3.0]); p = np.array([0.5, 1.0, 2.0])
>>> bool(np.isclose(fl.poisson(y, p), np.mean(p - y * np.log(p + 1e-7))))
True
>>> ours = fl.poisson(y, p, log_input=True)
>>> bool(np.isclose(ours, np.mean(np.exp(p) - y * p)))
True
"""),
    "expectile_loss": dict(
        short=r"|\tau - \mathbb 1[y < \hat y]|\,(y - \hat y)^2",
        title="Expectile loss", family="Regression",
        formula=r"l_i = \left|\tau - \mathbb 1[y_i < \hat y_i]\right|\,(y_i - \hat y_i)^2",
        where=r":math:`\tau` = ``expectile`` in (0, 1); τ = 0.5 is half the squared error.",
        gradient=r":math:`2\,|\tau - \mathbb 1[y < \hat y]|\,(\hat y - y)`.",
        hessian=r":math:`2\,|\tau - \mathbb 1[y < \hat y]|`.",
        peers=[("Asymmetric least squares (Newey & Powell, 1987)", "the expectile regression objective.")],
        edge=["τ outside (0, 1) is a ValueError naming ``expectile``.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0.0, 1.0, 2.0, 3.0]); p = np.array([0.5, 1.0, 4.0, -1.0])
>>> ref = np.mean(np.abs(0.8 - (y < p)) * (y - p) ** 2)
>>> bool(np.isclose(fl.expectile_loss(y, p, expectile=0.8), ref))
True
"""),
    "pseudo_huber": dict(
        short=r"\delta^2(\sqrt{1 + (e/\delta)^2} - 1)",
        title="Pseudo-Huber loss", family="Regression",
        formula=r"l_i = \delta^2\left(\sqrt{1 + (e_i/\delta)^2} - 1\right), \qquad e_i = \hat y_i - y_i",
        where=r":math:`\delta` = ``delta`` > 0; a smooth Huber: quadratic near 0, slope δ far away.",
        gradient=r":math:`e / \sqrt{1 + (e/\delta)^2}`.",
        hessian=r":math:`(1 + (e/\delta)^2)^{-3/2}`, never 0.",
        peers=[("XGBoost reg:pseudohubererror", "equal, ``huber_slope`` = δ.")],
        edge=["``delta <= 0`` is a ValueError naming ``delta``.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0.0, 1.0, 2.0]); p = np.array([0.5, 1.0, 4.0])
>>> e = p - y
>>> ref = np.mean(4.0 * (np.sqrt(1 + (e / 2.0) ** 2) - 1))
>>> bool(np.isclose(fl.pseudo_huber(y, p, delta=2.0), ref))
True
"""),
    "tweedie_deviance": dict(
        short=r"d_p(y, \mu)\text{: the Tweedie unit deviance}",
        title="Tweedie deviance", family="Regression",
        formula=r"l_i = d_p(y_i, \mu_i) = 2\left(\frac{y^{2-p}}{(1-p)(2-p)} - \frac{y\,\mu^{1-p}}{1-p} + \frac{\mu^{2-p}}{2-p}\right)",
        where=r":math:`\mu = \hat y`, or :math:`e^{\hat y}` with ``log_input=True``; ``power`` p is 0 or ≥ 1. "
              r"p = 0: :math:`(y - \mu)^2`; p = 1: :math:`2(y\log(y/\mu) - y + \mu)` (Poisson); "
              r"p = 2: :math:`2(\log(\mu/y) + y/\mu - 1)` (Gamma).",
        gradient=r":math:`\partial l/\partial\mu = -2(y - \mu)\mu^{-p}`; with ``log_input``: :math:`-2(y-\mu)\mu^{1-p}`.",
        hessian=r":math:`2\mu^{-p} + 2p(y-\mu)\mu^{-p-1}`; with ``log_input``: :math:`2\mu^{1-p}((2-p)\mu - (1-p)y)`.",
        peers=[("sklearn.metrics.mean_tweedie_deviance(power=p)", "equal."),
               ("sklearn HalfTweedieLoss(power)", "with ``log_input=True`` the gradient and hessian are 2× sklearn's.")],
        edge=["p in (0, 1) or p < 0 is a ValueError naming ``power``.",
              "y < 0 (p ≥ 1), y ≤ 0 (p ≥ 2) or μ ≤ 0 (p ≥ 1) is a ValueError, found in the kernel's pass.",
              _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> from sklearn.metrics import mean_tweedie_deviance
>>> y = np.array([0.0, 1.0, 3.0]); mu = np.array([0.5, 1.0, 2.0])
>>> ours = fl.tweedie_deviance(y, mu, power=1.5)
>>> bool(np.isclose(ours, mean_tweedie_deviance(y, mu, power=1.5)))
True
"""),
    # -------------------------------------------------------- classification
    "binary_crossentropy": dict(
        short=r"-(q y \log p + (1 - y)\log(1 - p))",
        title="Binary cross-entropy", family="Classification",
        formula=r"l_i = -\left(q\,\tilde y_i \log p_i + (1 - \tilde y_i)\log(1 - p_i)\right), \qquad \tilde y = y(1-s) + s/2",
        where=r":math:`q` = ``pos_weight`` (1 if None), :math:`s` = ``label_smoothing``; :math:`p = \hat y`, or :math:`\sigma(\hat y)` with ``from_logits=True``. Alias ``bce``.",
        gradient=r"With logits :math:`x`: :math:`(q\tilde y + 1 - \tilde y)\,\sigma(x) - q\tilde y`.",
        hessian=r"With logits: :math:`(q\tilde y + 1 - \tilde y)\,\sigma(x)(1 - \sigma(x))`; for probabilities the exact second derivative of the clipped function.",
        peers=[("keras.losses.BinaryCrossentropy", "equal, label smoothing included."),
               ("torch binary_cross_entropy(_with_logits)(pos_weight)", "equal; torch clamps log at -100 instead of clipping p (agree away from 0 and 1)."),
               ("sklearn HalfBinomialLoss", "equal (not halved: it is the full log-loss) with logits."),
               ("XGBoost binary:logistic / LightGBM binary", "same gradient and hessian with logits.")],
        edge=[_PROB_CLIP, _LOGITS, "A masked target class makes the loss +inf with a finite gradient.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0.0, 1.0, 1.0]); x = np.array([-1.0, 0.5, 3.0])
>>> p = 1 / (1 + np.exp(-x))
>>> ref = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
>>> bool(np.isclose(fl.binary_crossentropy(y, x, from_logits=True), ref))
True
"""),
    "balanced_crossentropy": dict(
        short=r"-\beta y \log p - (1-\beta)(1 - y)\log(1 - p)",
        title="Balanced cross-entropy", family="Classification",
        formula=r"l_i = -\beta\,y_i \log p_i - (1-\beta)(1 - y_i)\log(1 - p_i)",
        where=r":math:`\beta` = ``beta`` in [0, 1] weighs the positive term; β = 0.5 is half of BCE.",
        gradient=r"With logits: :math:`(\beta y + (1-\beta)(1-y))\,\sigma(x) - \beta y`.",
        hessian=r"With logits: :math:`(\beta y + (1-\beta)(1-y))\,\sigma(x)(1-\sigma(x))`.",
        peers=[("BinaryCrossentropy", "``2 · balanced_crossentropy(beta=0.5)`` equals ``binary_crossentropy``.")],
        edge=[_PROB_CLIP, _LOGITS, _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0.0, 1.0, 1.0]); p = np.array([0.2, 0.6, 0.9])
>>> ref = -np.mean(0.7 * y * np.log(p) + 0.3 * (1 - y) * np.log(1 - p))
>>> bool(np.isclose(fl.balanced_crossentropy(y, p, beta=0.7), ref))
True
"""),
    "binary_focal_crossentropy": dict(
        short=r"-\alpha y (1-p)^\gamma \log p - (1-\alpha)(1-y) p^\gamma \log(1-p)",
        title="Binary focal loss", family="Classification",
        formula=r"l_i = -\alpha\,y_i (1-p_i)^\gamma \log p_i - (1-\alpha)(1-y_i)\,p_i^\gamma \log(1-p_i)",
        where=r":math:`\gamma` = ``gamma`` ≥ 0 (focusing), :math:`\alpha` = ``alpha`` in [0, 1] (``None`` drops both α factors).",
        gradient=r":math:`\partial l/\partial p = \alpha y\left[\gamma(1-p)^{\gamma-1}\log p - (1-p)^\gamma/p\right] + (1-\alpha)(1-y)\left[p^\gamma/(1-p) - \gamma p^{\gamma-1}\log(1-p)\right]`; with ``from_logits=True`` times :math:`p(1-p)` (chain rule through the sigmoid). For γ > 0 its magnitude can exceed BCE's (see the figure).",
        hessian="The exact second derivative (``gradient_hessian``); negative in places for γ > 0: the focal loss is not convex in the logit.",
        peers=[("torchvision.ops.sigmoid_focal_loss", "equal with logits and 0/1 labels (``reduction='mean'`` for 1-D input)."),
               ("keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True)", "equal with 0/1 labels (Keras mixes soft labels into p_t).")],
        edge=[_PROB_CLIP, _LOGITS, "γ = 0 gives α-weighted BCE.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0.0, 1.0, 1.0]); p = np.array([0.2, 0.6, 0.9])
>>> pos = -0.25 * y * (1 - p) ** 2 * np.log(p)
>>> neg = -0.75 * (1 - y) * p ** 2 * np.log(1 - p)
>>> ref = np.mean(pos + neg)
>>> ours = fl.binary_focal_crossentropy(y, p, gamma=2.0, alpha=0.25)
>>> bool(np.isclose(ours, ref))
True
"""),
    "hinge": dict(
        title="Hinge loss", family="Classification",
        formula=r"l_i = \max(0,\ 1 - t_i \hat y_i)",
        where="Labels t all in {-1, 1}, or all in {0, 1} (mapped to 2y - 1, as Keras); anything else is a ValueError naming ``y_true``.",
        gradient=r":math:`-t` where :math:`1 - t\hat y > 0`, else 0 (0 at the kink).",
        hessian="0 (use the boosting adapters' ``hessian='unit'``).",
        peers=[("keras.losses.Hinge", "equal."),
               ("sklearn.metrics.hinge_loss", "equal for binary ±1 labels.")],
        edge=[_TIES, _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> t = np.array([-1.0, 1.0, 1.0]); s = np.array([0.3, 0.4, 2.0])
>>> bool(np.isclose(fl.hinge(t, s), np.mean(np.maximum(0, 1 - t * s))))
True
"""),
    "squared_hinge": dict(
        title="Squared hinge loss", family="Classification",
        formula=r"l_i = \max(0,\ 1 - t_i \hat y_i)^2",
        where="Labels as :doc:`hinge`.",
        gradient=r":math:`-2t\max(0, 1 - t\hat y)`.",
        hessian=r":math:`2t^2` where the margin is violated, else 0.",
        peers=[("keras.losses.SquaredHinge", "equal.")],
        edge=[_NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> t = np.array([-1.0, 1.0, 1.0]); s = np.array([0.3, 0.4, 2.0])
>>> ours = fl.squared_hinge(t, s)
>>> bool(np.isclose(ours, np.mean(np.maximum(0, 1 - t * s) ** 2)))
True
"""),
    "categorical_crossentropy": dict(
        short=r"-\sum_c a_c \tilde y_c \log p_c",
        title="Categorical cross-entropy", family="Classification",
        formula=r"l_i = -\sum_{c=1}^{C} a_c\,\tilde y_{ic} \log p_{ic}, \qquad \tilde y = y(1-s) + s/C",
        where=r"Row **sum** over the C classes; :math:`a_c` = ``class_weight`` (1 if None), :math:`s` = ``label_smoothing``; :math:`p` = the row renormalised then clipped, or ``softmax`` of logits. Alias ``cce``.",
        gradient=r"With logits: :math:`T p - a\tilde y`, :math:`T = \sum_c a_c \tilde y_c`.",
        hessian=r"With logits only: :math:`T p(1-p)` (the diagonal gradient-boosting libraries use).",
        peers=[("keras.losses.CategoricalCrossentropy", "equal."),
               ("torch.nn.functional.cross_entropy with probability targets", "equal, weighted mean included.")],
        edge=[_PROB_CLIP, _LOGITS, r"A term with :math:`\tilde y_c = 0` adds 0 even for a logit of :math:`-\infty`.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([[1.0, 0, 0], [0, 0.5, 0.5]])
>>> x = np.array([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3]])
>>> logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
>>> ours = fl.categorical_crossentropy(y, x, from_logits=True)
>>> bool(np.isclose(ours, np.mean(-(y * logp).sum(axis=1))))
True
"""),
    "sparse_categorical_crossentropy": dict(
        short=r"-\log p_{y}",
        title="Sparse categorical cross-entropy", family="Classification",
        formula=r"l_i = -\log p_{i, y_i}",
        where=r"``y_true`` integer labels ``(n,)``, ``y_pred`` ``(n, C)``. The sample weight is :math:`w_i = s_i\,a_{y_i}` (``class_weight``); rows with ``ignore_index`` weigh 0. Alias ``scce``.",
        gradient=r"With logits: :math:`w_i(p - \mathrm{onehot}(y_i))`, scaled by the reduction.",
        hessian=r"With logits only: :math:`p(1-p)` (XGBoost's ``multi:softprob`` uses :math:`2p(1-p)`).",
        peers=[("torch.nn.functional.cross_entropy(weight, ignore_index)", "equal, including torch's weighted mean :math:`\\sum w_i l_i / \\sum w_i`."),
               ("keras.losses.SparseCategoricalCrossentropy", "equal with unit weights."),
               ("sklearn HalfMultinomialLoss", "equal value with logits (not halved).")],
        edge=[_PROB_CLIP, _LOGITS, "Every row ignored: ``mean`` is 0.0 with a zero gradient.",
              "Labels outside [0, C) that are not ``ignore_index`` are a ValueError naming ``y_true``.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0, 2]); x = np.array([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3]])
>>> logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
>>> ours = fl.sparse_categorical_crossentropy(y, x, from_logits=True)
>>> bool(np.isclose(ours, -np.mean(logp[[0, 1], y])))
True
"""),
    "categorical_focal_crossentropy": dict(
        short=r"-\sum_c \alpha y_c (1 - p_c)^\gamma \log p_c",
        title="Categorical focal loss", family="Classification",
        formula=r"l_i = -\sum_{c=1}^{C} \alpha\,y_{ic}(1 - p_{ic})^\gamma \log p_{ic}",
        where=r"Row **sum**; :math:`\gamma` = ``gamma`` ≥ 0, :math:`\alpha` = ``alpha`` (None: 1).",
        gradient=r"With logits: :math:`p_j K - k_j`, :math:`k_c = \alpha y_c[(1-p_c)^\gamma - \gamma(1-p_c)^{\gamma-1}p_c\log p_c]`, :math:`K = \sum_c k_c`.",
        hessian="None (SPEC): no ``gradient_hessian``.",
        peers=[("keras.losses.CategoricalFocalCrossentropy", "equal (Keras also clips the softmax; equal away from 0 and 1).")],
        edge=[_PROB_CLIP, _LOGITS, _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([[1.0, 0, 0], [0, 0, 1.0]])
>>> p = np.array([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4]])
>>> ref = np.mean((-0.25 * y * (1 - p) ** 2 * np.log(p)).sum(axis=1))
>>> bool(np.isclose(fl.categorical_focal_crossentropy(y, p), ref))
True
"""),
    "multiclass_hinge": dict(
        short=r"\max(0,\ 1 + \max_{c \ne y} \hat y_c - \hat y_y)",
        title="Multiclass hinge (Crammer–Singer)", family="Classification",
        formula=r"l_i = \max\left(0,\ 1 + \max_{c \ne y_i} \hat y_{ic} - \hat y_{i y_i}\right)",
        where="``y_true`` integer labels ``(n,)``, ``y_pred`` ``(n, C)`` decision values, C ≥ 2.",
        gradient="Where l > 0: +1 on the best wrong class (the first on ties), -1 on the true class; 0 elsewhere.",
        hessian="None (SPEC).",
        peers=[("sklearn.metrics.hinge_loss(labels=range(C))", "equal, sample weights included.")],
        edge=[_TIES, _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([0, 2]); s = np.array([[2.0, 0.5, -1.0], [0.1, 0.9, 0.3]])
>>> wrong = [np.delete(s[i], y[i]).max() for i in range(2)]
>>> ref = np.mean([max(0, 1 + wrong[i] - s[i, y[i]]) for i in range(2)])
>>> bool(np.isclose(fl.multiclass_hinge(y, s), ref))
True
"""),
    # ---------------------------------------------------------- distribution
    "kl_divergence": dict(
        short=r"\sum_j y_j \log(y_j / \hat y_j)",
        title="Kullback–Leibler divergence", family="Distributions",
        formula=r"l_i = \sum_j y_{ij}\log\frac{y_{ij}}{\hat y_{ij}} \quad\text{or, with log_input:}\quad l_i = \sum_j y_{ij}(\log y_{ij} - \hat y_{ij})",
        where="Row **sum**; both clipped to :math:`[10^{-7}, 1]` (Keras); with ``log_input`` ŷ are log-probabilities and terms with y = 0 are 0 (torch's ``kl_div``). Aliases ``kld``, ``kullback_leibler_divergence``.",
        gradient=r":math:`-\tilde y_j / \hat y_j` (0 where ŷ is clipped); with ``log_input``: :math:`-y_j`.",
        hessian="None (SPEC).",
        peers=[("keras.losses.KLDivergence", "equal."),
               ("torch.nn.functional.kl_div(reduction='batchmean')", "equal to our ``mean`` with ``log_input=True``.")],
        edge=["With ``log_input``, a log-probability of -inf adds 0 where y = 0 and makes the loss +inf where y > 0.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([[0.2, 0.8], [0.5, 0.5]])
>>> p = np.array([[0.4, 0.6], [0.9, 0.1]])
>>> ours = fl.kl_divergence(y, p)
>>> bool(np.isclose(ours, np.mean((y * np.log(y / p)).sum(axis=1))))
True
"""),
    "cosine_similarity_loss": dict(
        short=r"1 - \cos(y, \hat y)",
        title="Cosine similarity loss", family="Distributions",
        formula=r"l_i = 1 - \frac{\langle y_i, \hat y_i\rangle}{\max(\lVert y_i\rVert, 10^{-12})\,\max(\lVert \hat y_i\rVert, 10^{-12})}",
        where="One row per sample (a 1-D pair is one row).",
        gradient="The derivative of the clamped formula; finite at zero norm.",
        hessian="None (SPEC).",
        peers=[("keras.losses.CosineSimilarity", "Keras returns :math:`-\\cos`: ``keras + 1`` equals this loss.")],
        edge=["Zero-norm rows give finite values and gradients.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([[1.0, 0.0], [1.0, 1.0]])
>>> p = np.array([[1.0, 1.0], [2.0, 2.0]])
>>> cos = (y * p).sum(1) / np.linalg.norm(y, axis=1) / np.linalg.norm(p, axis=1)
>>> bool(np.isclose(fl.cosine_similarity_loss(y, p), np.mean(1 - cos)))
True
"""),
    "hellinger_distance": dict(
        title="Hellinger distance", family="Distributions",
        formula=r"l_i = \frac{1}{\sqrt 2}\left\lVert \sqrt{y_i} - \sqrt{\hat y_i}\right\rVert_2",
        where=r"Rows are distributions; :math:`\hat y` is clipped to :math:`[10^{-7}, 1]` inside the root. Alias ``hellinger``.",
        gradient=r":math:`-(\sqrt{y_j} - \sqrt{p_j}) / (2\sqrt2\,D\sqrt{p_j})`, :math:`D = \lVert\sqrt y - \sqrt p\rVert`; 0 where the distance is 0.",
        hessian="None (SPEC).",
        peers=[("The seed's formula", "equal.")],
        edge=["A row at distance 0 has gradient 0 (no 0/0).", "A negative target gives NaN.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([[0.2, 0.8], [0.5, 0.5]])
>>> p = np.array([[0.4, 0.6], [0.9, 0.1]])
>>> ref = np.mean(np.linalg.norm(np.sqrt(y) - np.sqrt(p), axis=1) / np.sqrt(2))
>>> bool(np.isclose(fl.hellinger_distance(y, p), ref))
True
"""),
    # ------------------------------------------------------------- detection
    "giou_loss": dict(
        short=r"1 - \mathrm{GIoU}(\hat y, y)",
        title="Generalized IoU loss", family="Detection",
        formula=r"l_i = 1 - \frac{I}{U + \epsilon} + \frac{C - U}{C + \epsilon}",
        where=r"Boxes ``(n, 4)`` as ``x1, y1, x2, y2``; :math:`I` the intersection area, :math:`U = A(\hat y) + A(y) - I`, :math:`C` the area of the smallest enclosing box, :math:`\epsilon` = ``eps``.",
        gradient="With respect to the four predicted coordinates, equal to torch autograd through torchvision's formula (ties inside max/min split half and half).",
        hessian="None (SPEC).",
        peers=[("torchvision.ops.generalized_box_iou_loss", "equal.")],
        edge=["A box with x2 < x1 or y2 < y1 is a ValueError.", "Degenerate boxes (zero width, identical, disjoint) give finite values and gradients.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> t = np.array([[0.0, 0.0, 2.0, 2.0]]); b = np.array([[1.0, 1.0, 3.0, 3.0]])
>>> I, U, C = 1.0, 4 + 4 - 1.0, 9.0
>>> bool(np.isclose(fl.giou_loss(t, b), 1 - I / U + (C - U) / C))
True
"""),
    "diou_loss": dict(
        short=r"1 - \mathrm{IoU} + \rho^2 / c^2",
        title="Distance IoU loss", family="Detection",
        formula=r"l_i = 1 - \frac{I}{U + \epsilon} + \frac{\rho^2}{c^2 + \epsilon}",
        where=r":math:`\rho` the distance between the box centres, :math:`c` the diagonal of the smallest enclosing box; ``box_format`` ``xyxy``, ``xywh`` or ``cxcywh``.",
        gradient="With respect to the predicted coordinates in the given ``box_format``.",
        hessian="None.",
        peers=[("torchvision.ops.distance_box_iou_loss", "equal.")],
        edge=["A box with negative width or height is a ValueError.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> t = np.array([[0.0, 0.0, 2.0, 2.0]]); b = np.array([[1.0, 1.0, 3.0, 3.0]])
>>> iou, rho2, c2 = 1.0 / 7.0, 2.0, 18.0
>>> bool(np.isclose(fl.diou_loss(t, b), 1 - iou + rho2 / c2))
True
"""),
    "ciou_loss": dict(
        short=r"1 - \mathrm{IoU} + \rho^2 / c^2 + \alpha v",
        title="Complete IoU loss", family="Detection",
        formula=r"l_i = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2} + \alpha v, \quad v = \frac{4}{\pi^2}\left(\arctan\frac{w}{h} - \arctan\frac{\hat w}{\hat h}\right)^2, \quad \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}",
        where="As :doc:`diou_loss`, plus the aspect-ratio term v.",
        gradient=r"α is held constant in the gradient (torchvision computes it without grad).",
        hessian="None.",
        peers=[("torchvision.ops.complete_box_iou_loss", "equal.")],
        edge=["A box with negative width or height is a ValueError.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> t = np.array([[0.0, 0.0, 2.0, 2.0]]); b = np.array([[1.0, 1.0, 3.0, 3.0]])
>>> # both boxes are squares: the aspect term v is 0, CIoU = DIoU
>>> bool(np.isclose(fl.ciou_loss(t, b), 1 - 1.0 / 7.0 + 2.0 / 18.0))
True
"""),
    # ---------------------------------------------------------- segmentation
    "jaccard_loss": dict(
        short=r"1 - \frac{\sum y\hat y}{\sum y^2 + \sum \hat y^2 - \sum y\hat y}",
        title="Soft Jaccard loss", family="Segmentation",
        formula=r"L = 1 - \frac{\sum y\hat y + s}{\sum y^2 + \sum \hat y^2 - \sum y\hat y + s}",
        where="Sums over all elements (``class_axis=None``) or per index along ``class_axis`` (one score per class, then reduced over classes); s = ``smooth``.",
        gradient=r"Per element :math:`-(yD - N(2\hat y - y))/D^2`, N and D the numerator and denominator of its class.",
        hessian="None (set-level).",
        peers=[("The seed's formula", "equal; with 0/1 masks :math:`1 - L` is the Jaccard index.")],
        edge=[_SETLEVEL, "Empty masks give 0 (through ``smooth``).", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([1.0, 1.0, 0.0, 0.0]); p = np.array([0.9, 0.4, 0.2, 0.0])
>>> i = (y * p).sum()
>>> ours = fl.jaccard_loss(y, p)
>>> bool(np.isclose(ours, 1 - i / ((y**2).sum() + (p**2).sum() - i)))
True
"""),
    "f1_loss": dict(
        short=r"1 - \frac{2\sum y\hat y}{\sum y + \sum \hat y}",
        title="Soft F1 / Dice loss", family="Segmentation",
        formula=r"L = 1 - \frac{2\sum y\hat y + s}{\sum y + \sum \hat y + s}",
        where="Sums and ``class_axis`` as :doc:`jaccard_loss`. Alias ``DiceLoss`` / ``dice_loss``.",
        gradient=r"Per element :math:`-(2yD - N)/D^2`.",
        hessian="None (set-level).",
        peers=[("sklearn.metrics.f1_score", "with 0/1 predictions, :math:`1 - L` equals the binary F1 score (smooth → 0).")],
        edge=[_SETLEVEL, "Empty masks give 0 (through ``smooth``).", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> from sklearn.metrics import f1_score
>>> y = np.array([1, 1, 0, 0, 1]); p = np.array([1, 0, 0, 1, 1])
>>> bool(np.isclose(1 - fl.f1_loss(y * 1.0, p * 1.0), f1_score(y, p)))
True
"""),
    "tversky_loss": dict(
        short=r"(1 - \mathrm{TI}_{\alpha,\beta})^\gamma",
        title="Tversky loss", family="Segmentation",
        formula=r"L = (1 - \mathrm{TI})^\gamma, \qquad \mathrm{TI} = \frac{\sum y\hat y + s}{\sum y\hat y + \alpha\sum(1-y)\hat y + \beta\sum y(1-\hat y) + s}",
        where=r":math:`\alpha` weighs false positives, :math:`\beta` false negatives; with ``class_axis``: :math:`(\mathrm{mean}_c(1 - \mathrm{TI}_c))^\gamma`. α = β = 0.5, γ = 1 is :doc:`f1_loss` up to the smoothing term.",
        gradient="Analytic, through the class sums.",
        hessian="None (set-level).",
        peers=[("segmentation_models_pytorch TverskyLoss", "equal where every class is present.")],
        edge=[_SETLEVEL, _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([1.0, 1.0, 0.0, 0.0]); p = np.array([0.9, 0.4, 0.2, 0.0])
>>> tp, fp, fn = (y * p).sum(), ((1 - y) * p).sum(), (y * (1 - p)).sum()
>>> ours = fl.tversky_loss(y, p, alpha=0.3, beta=0.7)
>>> bool(np.isclose(ours, 1 - tp / (tp + 0.3 * fp + 0.7 * fn)))
True
"""),
    "lovasz_softmax": dict(
        short=r"\mathrm{mean}_c\ \overline{\Delta_{J_c}}(|\mathrm{fg}(c) - p_c|)",
        title="Lovász-Softmax loss", family="Segmentation",
        formula=r"L = \frac{1}{|\mathcal C|}\sum_{c \in \mathcal C} \overline{\Delta_{J_c}}\left(m(c)\right), \qquad m_i(c) = |\mathrm{fg}_i(c) - p_{ic}|",
        where=r":math:`\overline{\Delta_{J_c}}` is the Lovász extension of the Jaccard loss of class c: the errors sorted in descending order, dotted with the Lovász gradient (Berman et al., CVPR 2018). ``classes`` picks :math:`\mathcal C`; ``per_image`` averages over images.",
        gradient="The reference's autograd gradient: the sort permutation is a constant; chained through the softmax with ``from_logits``.",
        hessian="None (set-level).",
        peers=[("lovasz_softmax of bermanmaxim/LovaszSoftmax (pytorch)", "equal.")],
        edge=[_SETLEVEL, "Everything ignored: loss 0, zero gradient.", "An image with no valid pixel counts 0 with ``per_image=True``.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> labels = np.array([0, 1, 1, 0])
>>> perfect = np.eye(2)[labels]
>>> fl.lovasz_softmax(labels, perfect)
0.0
>>> bool(fl.lovasz_softmax(labels, perfect[:, ::-1]) == 1.0)  # all wrong
True
"""),
    "lovasz_hinge": dict(
        short=r"\overline{\Delta_J}(\mathrm{relu}(1 - t\hat y))",
        title="Lovász hinge loss", family="Segmentation",
        formula=r"L = \overline{\Delta_J}\left(\mathrm{relu}(1 - t\hat y)\right), \qquad t = 2y - 1",
        where="Binary logits ``(B, H, W)`` or ``(P,)``; errors sorted in descending order, relu, dotted with the Lovász gradient. ``per_image=True`` (default) averages over axis 0.",
        gradient="The reference's autograd gradient (relu'(0) = 0).",
        hessian="None (set-level).",
        peers=[("lovasz_hinge of bermanmaxim/LovaszSoftmax", "equal.")],
        edge=[_SETLEVEL, "A logit of ±inf whose error is +inf makes the loss +inf, never NaN.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> y = np.array([[1, 1, 0, 0]]); x = np.array([[3.0, 2.0, -2.0, -5.0]])
>>> fl.lovasz_hinge(y, x)   # every margin above 1: nothing to pay
0.0
"""),
    # ------------------------------------------------------------ agreement
    "kappa_loss": dict(
        short=r"1 - \kappa = \sum W\circ O / \sum W\circ E",
        title="Soft Cohen's kappa loss", family="Agreement",
        formula=r"L = 1 - \kappa = \frac{\sum W \circ O}{\sum W \circ E}, \qquad O = Y^\top P, \quad E = \frac{(\sum_i Y_i)^\top(\sum_i P_i)}{n}",
        where=r"``y_true`` integer labels, ``y_pred`` probabilities ``(n, C)``; :math:`W = 1 - I` (``weights=None``), :math:`|i-j|/(C-1)` (linear), :math:`(i-j)^2/(C-1)^2` (quadratic). No ``reduction``: one number for the set.",
        gradient=r":math:`\partial L/\partial P_{ib} = w_i(W_{y_i b} - L v_b/\sum w)/\sum W\circ E`; through the softmax with ``from_logits``.",
        hessian="None (set-level).",
        peers=[("sklearn.metrics.cohen_kappa_score", "with one-hot ŷ, :math:`1 - L` equals it; :func:`fastloss.cohen_kappa` is the hard metric.")],
        edge=["Undefined κ (Σw = 0 or Σ W∘E = 0): loss 0 with a zero gradient.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> from sklearn.metrics import cohen_kappa_score
>>> y = np.array([0, 1, 2, 2, 1]); guess = np.array([0, 2, 2, 1, 1])
>>> bool(np.isclose(1 - fl.kappa_loss(y, np.eye(3)[guess], weights="quadratic"),
...                 cohen_kappa_score(y, guess, weights="quadratic")))
True
"""),
    # --------------------------------------------------------------- ranking
    "ranknet": dict(
        short=r"\log(1 + e^{-\sigma(\hat y_i - \hat y_j)}),\ y_i > y_j",
        title="RankNet", family="Ranking",
        formula=r"l_{ij} = \log\left(1 + e^{-\sigma(\hat y_i - \hat y_j)}\right) \quad\text{for } y_i > y_j \text{ in the same group}",
        where=r":math:`\sigma` = ``sigma``; ``group`` integer query ids (None: one list). A pair weighs :math:`w_i w_j`; ``mean`` = :math:`\sum w_i w_j l_{ij} / \sum w_i w_j`, ``none`` = per-group sums.",
        gradient=r":math:`\mp\sigma\,\mathrm{sigmoid}(-\sigma(\hat y_i - \hat y_j))` to i and j, summed over pairs.",
        hessian=r":math:`\sum_{\text{pairs} \ni i} w_i w_j \sigma^2\rho_{ij}(1 - \rho_{ij})`, :math:`\rho_{ij} = \mathrm{sigmoid}(-\sigma(\hat y_i - \hat y_j))` (SPEC §4.2).",
        peers=[("torch broadcasting over the n×n difference matrix", "equal."),
               ("allRank RankNet without padding", "equal.")],
        edge=["No pair: ``mean`` is 0 with a zero gradient.", "A NaN relevance makes the loss and gradient NaN.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> rel = np.array([2.0, 1.0, 0.0]); s = np.array([0.5, 1.0, -1.0])
>>> pairs = [(i, j) for i in range(3) for j in range(3) if rel[i] > rel[j]]
>>> ref = np.mean([np.log1p(np.exp(-(s[i] - s[j]))) for i, j in pairs])
>>> bool(np.isclose(fl.ranknet(rel, s), ref))
True
"""),
    "lambdarank": dict(
        short=r"|\Delta\mathrm{NDCG}_{ij}| \log(1 + e^{-\sigma(\hat y_i - \hat y_j)})",
        title="LambdaRank", family="Ranking",
        formula=r"l = \sum_{\text{pairs}} w_i w_j\,|\Delta\mathrm{NDCG}_{ij}|\,\log\left(1 + e^{-\sigma(\hat y_i - \hat y_j)}\right)",
        where=r":math:`|\Delta\mathrm{NDCG}_{ij}| = |(2^{y_i} - 2^{y_j})(1/\log_2(2 + r_i) - 1/\log_2(2 + r_j))| / \mathrm{IDCG}_k`, r the 0-based rank by ŷ descending (ties: input order); with ``k`` only pairs with :math:`\min(r_i, r_j) < k` count. ``mean`` divides by :math:`\sum w_i w_j` of the counted pairs.",
        gradient=r"RankNet's, each pair weighted by :math:`|\Delta\mathrm{NDCG}_{ij}|` held fixed (exact almost everywhere).",
        hessian=r":math:`\sum w_i w_j |\Delta\mathrm{NDCG}_{ij}|\sigma^2\rho_{ij}(1-\rho_{ij})`.",
        peers=[("LightGBM lambdarank / XGBoost rank:ndcg", "the same pair weighting (those normalise differently).")],
        edge=["A group whose IDCG is 0 adds nothing.", _NAN],
        example="""\
>>> import numpy as np, fastloss as fl
>>> rel = np.array([1.0, 0.0]); s = np.array([0.0, 0.0])
>>> dndcg = (2**1 - 2**0) * (1 / np.log2(2) - 1 / np.log2(3))   # IDCG = 1
>>> bool(np.isclose(fl.lambdarank(rel, s), dndcg * np.log(2)))
True
"""),
}
