"""Name and place lists the synthetic population draws from (common in England).

Most frequent first: draws follow a Zipf-like curve over each list, and a share of
family and given names come from made-up syllables so the tail is long, as it is in
the real population (the top 300 surnames cover well under half of it).
"""

from __future__ import annotations

GIRLS = (
    "Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Willow Freya Florence "
    "Emily Ella Poppy Evie Elsie Charlotte Evelyn Sienna Sofia Daisy Phoebe Sophie Alice "
    "Harper Matilda Ruby Emilia Maya Isabelle Millie Eva Luna Jessica Chloe Ellie Esme "
    "Arabella Violet Layla Aria Bonnie Scarlett Maisie Hallie Erin Imogen Thea Lottie Mila "
    "Orla Hannah Eliza Olive Nancy Ada Margot Harriet Georgia Elizabeth Penelope Beatrice "
    "Zara Molly Lucy Aurora Lyla Eleanor Emma Ayla Annabelle Hazel Rose Holly Eden Heidi "
    "Amber Lola Iris Victoria Jasmine Robyn Katherine Abigail Rebecca Megan Lauren Leah "
    "Bethany Amy Caitlin Courtney Niamh Shannon Paige Aisha Fatima Maryam Zainab Amira "
    "Khadija Hafsa Ayesha Inaya Anaya Priya Simran Jasleen Kiran Zofia Julia Natalia Maja "
    "Amara Chidinma Adaeze Precious Blessing Tiana Keira Demi Jade Kayla Tegan Skye Summer "
    "Autumn Madison Samantha Natalie Danielle Gemma Kirsty Stacey Leanne Nicole Francesca "
    "Alexandra Gabriella Josephine Matilda Clara Elodie Sadie Ottilie Primrose Wren"
).split()

BOYS = (
    "Muhammad Noah Oliver George Leo Arthur Oscar Theodore Freddie Theo Archie Jack Charlie "
    "Alfie Henry Finley Harry Jacob Thomas William Lucas Tommy Isaac Teddy Arlo Edward Luca "
    "Rory Joshua James Albie Hugo Elijah Jude Max Reggie Louie Ezra Mason Roman Hunter "
    "Benjamin Alexander Sebastian Joseph Ronnie Louis Dylan Jaxon Ethan Samuel Elliot "
    "Daniel Harrison Frankie Toby Ollie Jenson Albert Caleb Finn Logan Jesse Adam Bobby "
    "Grayson Michael Stanley David Rowan Zachary Ralph Kai Liam Otis Riley Nathan Harvey "
    "Jayden Connor Callum Kieran Ryan Tyler Lewis Luke Matthew Bradley Jordan Aaron Ben "
    "Jake Cameron Declan Kyle Owen Reece Sam Dominic Patrick Robert John Christopher Anthony "
    "Ibrahim Yusuf Omar Ali Zayn Ayaan Hamza Musa Idris Bilal Arjun Rohan Aarav Dev Harjot "
    "Jakub Szymon Antoni Filip Mateusz Chukwuemeka Oluwaseun Emmanuel Kwame Tobias Felix "
    "Jasper Rupert Barnaby Ellis Kian Brandon Corey Jamie Shane Darren Craig Lee Wayne "
    "Frederick Alfred Archibald Ernest Harold Leon Marcus Nathaniel Reuben Seth Spencer"
).split()

SURNAMES = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
    "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel "
    "Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison "
    "Morgan Allen James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths "
    "Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox "
    "Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster "
    "Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer "
    "Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray "
    "Dixon Harvey Graham Pearson Ahmed Fletcher Walsh Kaur Gibson Howard Andrews Stewart "
    "Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole Atkinson "
    "Bradley Spencer Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan Grant "
    "Wells Armstrong Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory "
    "Carr Lowe Page Marsh Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins Harding "
    "Porter Robertson Newton Oliver Reed Kennedy Williamson Bird Gardner Shah Dean Lane "
    "Cooke Bates Henderson Parry Burgess Bishop Walton Burns Nicholson Shepherd Ross Cross "
    "Long Freeman Warren Nicholls Hamilton Byrne Sutton McDonald Yates Hodgson Robson "
    "Curtis Hopkins O'Connor Harper Coleman Watkins Moss McCarthy Chambers O'Neill Griffin "
    "Sharp Hardy Wheeler Potter Osborne Johnston Gordon Doyle Wallace George Jordan "
    "Hutchinson Rowe Burke May Pritchard Gilbert Willis Higgins Read Miles Stevenson "
    "Hammond Arnold Buckley Walters Hewitt Barber Nelson Slater Austin Sullivan Whitehead "
    "Mann Frost Lambert Blake Akhtar Lynch Goodwin Barton Woodward Cunningham Quinn Barnett "
    "Baxter Bibi Clayton Nash Greenwood Jennings Holt Kemp Poole Gallagher Bond Stokes "
    "Tucker Davidson Fowler Heath Norman Middleton Lawson Banks French Stanley Jarvis Gibbs "
    "Ferguson Hayward Carroll Douglas Dickinson Todd Barlow Peters Lucas Knowles Hartley "
    "Miah Simmons Morton Alexander Field Morrison Norris Townsend Preston Hancock Thornton "
    "Baldwin Burrows Briggs Storey Pugh Nowak Kowalski Rahman Islam Uddin Mohamed Abdi "
    "Okafor Adeyemi Mensah Nguyen Chen Wang Brontë Núñez Łukasiewicz"
).split()

SYLLABLES_START = (
    "Ash Bar Bel Brad Brom Cal Carn Chad Dal Dun Eg Far Fen Gar Hal Hey Kel Kin Lang Lin "
    "Mar Mel Nor Ock Pen Ram Rid Sal Shel Stan Thorn Tal Wal Wes Win Yar Ald Bur Cran Hol"
).split()
SYLLABLES_END = (
    "by ford ley ton well wick worth field ham more ridge stone wood dale croft hurst "
    "land sey win ster cott bourne ing low thwaite"
).split()

AREAS = (
    "S LS M B L NE BD SW E N CF BS NG LE CV DN HU WF HD HX OL BL WN ST DE SK CH PR BB LA "
    "CA DH SR TS YO HG PO SO BN RG"
).split()

STREETS = (
    "High Church Station Victoria Mill Park Queen King Green Manor Grange School Albert "
    "Chapel Springfield Windsor York Kingsway Oak Ash Elm Beech Willow Cedar Meadow Orchard "
    "Westfield Highfield Broad Bridge Castle Market Hall Moor Vicarage Mount Hill Brook"
).split()
STREET_TYPES = ("Street", "Road", "Avenue", "Close", "Lane", "Drive", "Crescent", "Way")

LOCAL_AUTHORITY_CODES = (370, 371, 372, 373, 380, 381, 382, 383, 384, 390, 391, 392, 393)
