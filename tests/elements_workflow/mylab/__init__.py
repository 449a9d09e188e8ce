"""A lab's DataJoint pipeline built on DataJoint Elements (the test workflow of tests/elements_workflow)."""
