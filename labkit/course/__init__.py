"""The course machinery: exercise checks, progress, release (solutions -> notebooks) and grading."""
