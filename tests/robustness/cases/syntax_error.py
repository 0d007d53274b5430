from nnarch.topic import Topic

TOPIC = Topic(name="case", title="Broken"
