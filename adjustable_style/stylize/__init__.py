"""Stylizing: what `stylize.py` does with pictures and videos.

options       Options: every stylize.py setting, its default, help and checks
pictures      images, sweeps and animations, all or nothing
figures       labelled grids (Figures 3 and 9) and animations
video         a video: streaming frames, alpha over time, progress
video_files   ffmpeg (imageio-ffmpeg): probing, decoding, encoding, the audio track
keyframes     --alpha_keyframes: parsing, checks, monotone cubic interpolation
temporal      less flicker: instance-norm statistics over frames, holding still regions
"""
