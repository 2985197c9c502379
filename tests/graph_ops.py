"""What a traced TensorFlow function runs, for tests that check which ops a graph uses."""


def op_types(concrete_function):
    """Op types of a concrete function's graph and every function it calls
    (cond branches included)."""
    graph_def = concrete_function.graph.as_graph_def()
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops |= {node.op for node in function.node_def}
    return ops
