"""Albums: named sets of folders kept indexed, and InvokeAI board albums kept in step."""
