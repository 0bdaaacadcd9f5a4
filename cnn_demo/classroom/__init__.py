"""The class in the app: who leads it (the teacher) and who joins it (the students)."""
