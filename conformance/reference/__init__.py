"""The embedded reference ECS and EES: correct to the spec, with named faults."""
