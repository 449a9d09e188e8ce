"""A lab's DataJoint pipeline built on DataJoint Elements (the test workflow of integration/elements_workflow)."""
