"""Certificates of completion (kursusbevis): the PDF, its verification code and the public verification page."""
