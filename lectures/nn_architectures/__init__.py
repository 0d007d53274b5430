"""Day 2, first session: Neural Network Architectures. Topics appear in the order listed here; the
lecture's own frames (schedule, motivation, summary) are in lecture.md."""

from nnarch.topic import Lecture

LECTURE = Lecture(
    slug="nn-architectures",
    title="Neural Network Architectures",
    subtitle="FFNN, GNN, CNN and LSTM: matching the structure of the model to the data",
    day=2,
    session="09:00–10:00",
    lab="Lab: Four Architectures in Practice",
    topics=("ffnn", "gnn", "cnn", "lstm"),
)
