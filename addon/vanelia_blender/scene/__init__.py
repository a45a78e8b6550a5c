"""bpy builders: each module creates or updates its part of the Vanelia scene."""
