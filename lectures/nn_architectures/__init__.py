"""Day 2, first session: Neural Network Architectures. Topics appear in the order listed here."""

from nnarch.topic import Bullets, Columns, Frame, Lecture, Math, ScheduleTable, Table

LECTURE = Lecture(
    slug="nn-architectures",
    title="Neural Network Architectures",
    subtitle="FFNN, GNN, CNN and LSTM: matching the structure of the model to the data",
    day=2,
    session="09:00–10:00",
    lab="Lab: Feed-forward and Graph NNs",
    topics=("ffnn", "gnn", "cnn", "lstm"),
    intro=(
        Frame("Five-Day Schedule Overview", [ScheduleTable()]),
        Frame("Neural Network Architectures — Why Structure Matters", [
            Columns(
                left=[
                    Bullets(["The way units are wired fixes which functions a network can express",
                             "An architecture is a set of built-in assumptions about the data",
                             "Connectivity limits what learning can find"], heading="Key idea"),
                    Bullets(["Architecture: the hypothesis space",
                             "Optimizer: the search through that space",
                             "Data: the evidence that picks one member"], heading="Conceptual view"),
                    Math(r"\mathcal{H}_{\text{model}} \xrightarrow{\text{training}} \hat{f}"),
                ],
                right=[
                    Bullets(["Feed-forward networks", "Graph neural networks",
                             "Convolutional networks", "Recurrent / LSTM models"],
                            heading="One data set, four model families"),
                    Math(r"\mathcal{H}_{\text{linear}} &= \{ f(x) = w^\top x + b \} \\"
                         r"\mathcal{H}_{\text{FFNN}} &= \{ f_\theta(x) = W_2\, \sigma(W_1 x) \} \\"
                         r"\mathcal{H}_{\text{CNN}} &= \{ f_\theta(x) = \sigma(K * x + b) \} \\"
                         r"\mathcal{H}_{\text{GNN}} &= \{ f_\theta(G) \mid G = (V, E, X) \}"),
                ],
            ),
        ]),
    ),
    summary=(
        Frame("Neural Network Architectures — Chapter Summary", [
            Table(["architecture", "inductive bias", "task shown", "measured here"], [
                ["FFNN", "none beyond smoothness: global function approximation",
                 "regression of a 1-D function", "test MSE {{topics.ffnn.metrics.test_mse:.1e}}"],
                ["GNN", "interactions along the edges of a graph",
                 "one step of advection on a ring", "test MSE {{topics.gnn.metrics.test_mse:.1e}}"],
                ["CNN", "locality and translation invariance", "function classification",
                 "accuracy {{topics.cnn.metrics.test_accuracy:.1%}}"],
                ["LSTM", "temporal dependencies in gated memory", "anomaly detection",
                 "ROC-AUC {{topics.lstm.metrics.roc_auc:.3f}}"],
            ]),
            Columns(left=[
                Bullets(["structure is encoded in the connectivity",
                         "each model was trained and measured for these slides"],
                        heading="Inductive bias"),
            ], right=[
                Bullets(["the architecture must match the structure of the data",
                         "no network is best for every problem"], heading="Core message"),
            ]),
        ]),
    ),
)
