"""Hand-written drafts for the synthesis tests: a small sound domain, and broken variants."""

from __future__ import annotations

from envscale.synth.records import ApiTool, Community, Provenance, SpecDraft

NOTEBOOK = """domain notebook "Notes kept by people." clock "2024-05-01T10:00:00"
  policy "You help people with their notes."

enum NoteStatus { active, archived }

entity Person "Someone who keeps notes" {
  person_id: str @key
  name: str
  email: str @unique
}

entity Note "A note" {
  note_id: str @key
  owner: Person
  title: str
  body: str @default("")
  status: NoteStatus @default(active)
}

tool get_person(person_id: str "The person's id, e.g. PE0001") -> Person {
  "Look a person up by id."
  return Person[person_id]
}

tool get_note(note_id: str "The note's id, e.g. NO0001") -> Note {
  "Look a note up by id."
  return Note[note_id]
}

tool list_notes(person_id: str "The person's id") -> list<Note> {
  "List a person's notes."
  return Note.where(owner: Person[person_id])
}

tool create_note(person_id: str "The owner's id", title: str "The note's title") -> Note {
  "Write a new note."
  require len(strip(title)) > 0 else "Give a title"
  return insert Note(note_id: next_key(Note, "NO", 4), owner: Person[person_id], title: title)
}

tool rename_note(note_id: str "The note's id", title: str "The new title") -> Note {
  "Give a note a new title."
  let n = Note[note_id]
  require len(strip(title)) > 0 else "Give a title"
  set n.title = title
  return n
}

tool delete_note(note_id: str "The note's id") -> str {
  "Delete a note."
  let n = Note[note_id]
  delete n
  return format("Deleted note {}", note_id)
}
"""

# A misspelt type: the spec does not check.
UNCHECKED = NOTEBOOK.replace("  owner: Person\n", "  owner: Persn\n")

# A tool no walk can call: its code is never one a user would give.
UNREACHABLE = (
    NOTEBOOK
    + """
tool pin_note(note_id: str "The note's id", code: str "The pin code") -> Note {
  "Pin a note with a code."
  let n = Note[note_id]
  require code == "a code no one has" else "Wrong code"
  set n.status = archived
  return n
}
"""
)

# A write that takes a missing key for no error: it quietly does nothing.
SILENT_MISSING_KEY = (
    NOTEBOOK
    + """
tool touch_note(note_id: str "The note's id") -> Note? {
  "Mark a note as read."
  let n = Note.get(note_id)
  if n != none {
    set n.body = format("{} (read)", n.body)
  }
  return n
}
"""
)

# The get tool hides archived notes, so archiving one cannot be read back.
HIDDEN_UPDATE = (
    NOTEBOOK.replace(
        """  "Look a note up by id."
  return Note[note_id]""",
        """  "Look a note up by id."
  let n = Note[note_id]
  require n.status == active else format("No note {}", note_id)
  return n""",
    )
    + """
tool archive_note(note_id: str "The note's id") -> Note {
  "Archive a note."
  let n = Note[note_id]
  require n.status == active else "The note is archived already"
  set n.status = archived
  return n
}
"""
)


def draft(source: str, name: str = "notebook") -> SpecDraft:
    return SpecDraft(name=name, source=source)


SOURCES = {
    "notebook": NOTEBOOK,
    "unchecked": UNCHECKED,
    "unreachable": UNREACHABLE,
}


def by_name(community: Community) -> SpecDraft:
    """A drafter for pipeline tests: the draft named by the community's first word, each
    tool's definitions as the community holds them."""
    source = SOURCES[community.name.split("_")[0]]
    source = source.replace("domain notebook ", f"domain {community.name} ", 1)
    return SpecDraft(
        name=community.name,
        source=source,
        provenance={t.name: t.provenance for t in community.tools},
        entities=["Person", "Note"],
    )


def notebook_tools(source: str) -> list[ApiTool]:
    """ApiTools named as the notebook's tools, from one made-up source."""
    names = ["get_person", "get_note", "list_notes", "create_note", "rename_note", "delete_note"]
    return [
        ApiTool(
            name=name,
            description=f"{name.replace('_', ' ')}.",
            parameters={
                "type": "object",
                "properties": {"note_id": {"type": "string"}},
                "required": ["note_id"],
            },
            provenance=[Provenance(source=source, group="notes", original_name=name)],
        )
        for name in names
    ]
