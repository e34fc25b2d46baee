"""Story grouping: the same event reported by several feeds becomes one story."""

from bot.stories.grouper import DEFAULT_WINDOW, Assignment, StoryGrouper, StoryItem

__all__ = ["DEFAULT_WINDOW", "Assignment", "StoryGrouper", "StoryItem"]
