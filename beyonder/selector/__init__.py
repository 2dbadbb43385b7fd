"""The selector: a permutation-invariant network that predicts every classifier's label.

``encoding`` turns a sample into per-cell channels and dataset-level numbers (landmarkers
included); ``model`` is the Keras network (attention across the features of a row and across
the rows of a feature, attention pooling, one head per output); ``estimator`` trains it
(``Beyonder``), ``network`` and ``inference`` run a saved one in NumPy without TensorFlow;
``corpus`` reads the labelled samples it is trained on; ``baselines`` are the simpler
meta-learners it is measured against and starts from; ``finetune`` adapts a trained one to
new labels; ``cell_pretraining`` pre-trains its encoder on hidden cells.
"""
