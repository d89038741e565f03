"""The course machinery: exercise checks, progress, release (solutions -> notebooks), notebook runs and grading, the lab launcher and the learner's work folders."""
