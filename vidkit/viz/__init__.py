"""Display code: frames, strips, flow and attention overlays, GIF/MP4 export (:mod:`vidkit.viz.frames`),
notebook widgets (:mod:`vidkit.viz.widgets`), the neighbour browser (:mod:`vidkit.viz.browser`), clips with their
sound (:mod:`vidkit.viz.av`: MP4 export and the audio-visual player) and the cross-modal neighbour browser
(:mod:`vidkit.viz.crossmodal`)."""
