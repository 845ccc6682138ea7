"""The names `import labkit` gives a learner: connect, Lab, and teardown as a callable."""

import labkit


def test_teardown_is_callable_and_still_a_package():
    assert callable(labkit.teardown)
    assert labkit.teardown.teardown.__name__ == "teardown"
    assert labkit.teardown.core.__name__ == "labkit.teardown.core"


def test_public_names():
    assert set(labkit.__all__) == {"Lab", "LabkitError", "__version__", "connect", "teardown"}
