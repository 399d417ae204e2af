"""Display code: frames, strips, flow and attention overlays, GIF/MP4 export (:mod:`vidkit.viz.frames`),
notebook widgets (:mod:`vidkit.viz.widgets`), the neighbour browser (:mod:`vidkit.viz.browser`), clips with their
sound (:mod:`vidkit.viz.av`: MP4 export and the audio-visual player), the cross-modal neighbour browser
(:mod:`vidkit.viz.crossmodal`) and notebook 06's HERO views (:mod:`vidkit.viz.hero`: attention explorer, frame
order and moment timeline figures) and what a fully connected LSTM's weights look like (:mod:`vidkit.viz.weights`:
weight images per gate and unit, a figure of the strongest units, the weight viewer)."""
