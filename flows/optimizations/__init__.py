"""QuantConnect's optimizer: ``optimize-strategy`` with its cost guard (:mod:`.optimize`), the
heatmap and line charts of its points (:mod:`.charts`)."""
