"""Followers: who follows the account now, and the history of follows, unfollows and QR scans."""
