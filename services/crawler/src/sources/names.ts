/** Word lists the simulator draws names from. Fictional, so demos never show real clubs. */
export const LEAGUE_NAMES = [
  'Premier Division',
  'Coastal League',
  'Northern League',
  'Highland Cup',
  'Southern Conference',
  'Metropolitan League',
  'Valley League',
  'Continental Series',
];

export const COUNTRIES = ['Avalon', 'Borduria', 'Carpania', 'Dovania', 'Elbonia', 'Freedonia', 'Genovia', 'Latveria'];

export const CITIES = [
  'Ashford', 'Bramley', 'Carrow', 'Dunmore', 'Eastwick', 'Fairhaven', 'Glenford', 'Harlow',
  'Ironbridge', 'Kingsbay', 'Lakeside', 'Marston', 'Northgate', 'Oakridge', 'Portwell', 'Queensford',
  'Redcliff', 'Stonebury', 'Thornton', 'Upton', 'Westmoor', 'Yarrow', 'Brightwater', 'Coldharbour',
  'Elmstead', 'Foxley', 'Greystone', 'Hollowell', 'Millbrook', 'Riverton', 'Silverdale', 'Whitby',
];

export const CLUB_SUFFIXES = ['United', 'City', 'Rovers', 'Athletic', 'Wanderers', 'Town', 'FC', 'Albion', 'Rangers', 'Harriers'];

export const FIRST_NAMES = [
  'Adam', 'Bruno', 'Carlos', 'Dani', 'Emil', 'Felix', 'Gabriel', 'Hugo', 'Ivan', 'Jonas', 'Kai', 'Luca',
  'Marco', 'Nico', 'Oscar', 'Pablo', 'Rafael', 'Sami', 'Tomas', 'Victor', 'Yusuf', 'Zeno', 'Leon', 'Milan',
];

export const LAST_NAMES = [
  'Almeida', 'Berger', 'Costa', 'Dumont', 'Eriksen', 'Fischer', 'Garcia', 'Hansen', 'Ito', 'Jansen',
  'Kovac', 'Larsen', 'Moreau', 'Novak', 'Okafor', 'Petrov', 'Quinn', 'Rossi', 'Silva', 'Takahashi',
  'Urban', 'Varga', 'Weber', 'Young', 'Zielinski', 'Mensah', 'Haddad', 'Lindqvist',
];

export const REFEREES = ['A. Marsh', 'B. Keller', 'C. Duarte', 'D. Olsen', 'E. Brandt', 'F. Moretti', 'G. Novak', 'H. Sato'];

export const WEATHER = ['clear', 'cloudy', 'light rain', 'rain', 'windy', 'cold', 'warm'];
