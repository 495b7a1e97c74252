"""rnnkit.tasks"""
