from nnarch.topic import Topic

TOPIC = Topic(name="case", model=None
